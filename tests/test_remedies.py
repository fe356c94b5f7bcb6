"""Every remedy a plan offers is a spec the plan accepts: applied with its ``--set`` values and planned again, it gets a
plan (no lint error, no PlanError) whose memory is the remedy's, and one marked as fitting fits.

The models are catalogued hub ids (ftspec.models.architectures), planned without their files: an empty hub cache makes
that so on any machine. Samples are long enough that max_length and the micro-batch matter to the memory.
"""

from __future__ import annotations

import itertools
import json

import pytest

from ftspec.plan.memory import Remedy
from ftspec.plan.planning import NoPlan, plan_loaded, plan_spec
from ftspec.plan.remedies import candidates
from ftspec.spec.load import load_spec
from ftspec.spec.sweep import with_sets

MODELS = {"qwen2.5-7b": "Qwen/Qwen2.5-7B-Instruct", "llama3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
          "llama3.1-70b": "meta-llama/Llama-3.1-70B-Instruct", "qwen-7b": "Qwen/Qwen-7B-Chat"}
ADAPTERS = ("lora", "qlora", "full")
# (accelerator, GPUs, compute.distributed): one GPU on a large, a 40 GB and a 24 GB card; eight with each strategy.
LAYOUTS = (("h100", 1, "auto"), ("a100-40gb", 1, "auto"), ("l4", 1, "auto"), ("h100", 8, "zero3"),
           ("a100-40gb", 8, "fsdp"), ("l4", 8, "ddp"), ("h100", 8, "zero2"))
# data.max_length and the words in each answer (~1.3 tokens a word without the tokenizer): long samples near 16k
# (near 8k for Qwen 1, whose context is 8192), short ones under 2k.
LENGTHS = {"16k": (16384, 9000), "8k": (8192, 4500), "2k": (2048, 1200)}


def _cases():
    out = []
    for n, (model, adapter, layout) in enumerate(itertools.product(MODELS, ADAPTERS, LAYOUTS)):
        length = "16k" if n % 2 == 0 or model == "llama3.1-70b" else "2k"
        length = "8k" if model == "qwen-7b" and length == "16k" else length
        out.append(pytest.param(model, adapter, layout, length,
                                id=f"{model}-{adapter}-{layout[1]}x{layout[0]}-{layout[2]}-{length}"))
    return out


@pytest.fixture(autouse=True)
def _empty_hub_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.getbasetemp() / "empty-hub-cache"))


def _project(tmp_path, model: str, adapter: str, accelerator: str, gpus: int, distributed: str, length: str,
             batch_size: int = 8) -> str:
    max_length, words = LENGTHS[length]
    answer = "answer " + "word " * words
    rows = "".join(json.dumps({"messages": [{"role": "user", "content": f"question {i}"},
                                            {"role": "assistant", "content": f"{i} {answer}"}]}) + "\n"
                   for i in range(12))
    (tmp_path / "train.jsonl").write_text(rows, encoding="utf-8")
    remote = "  trust_remote_code: true\n  revision: '" + "a" * 40 + "'\n" if model == "qwen-7b" else ""
    spec = (f"version: 1\nname: t\nmodel:\n  base: {MODELS[model]}\n{remote}adapter:\n  type: {adapter}\n"
            f"data:\n  train: train.jsonl\n  validation: 0.2\n  max_length: {max_length}\n  over_length: truncate\n"
            f"training:\n  batch_size: {batch_size}\n"
            f"compute:\n  accelerator: {accelerator}\n  gpus_per_node: {gpus}\n  distributed: {distributed}\n"
            "lint:\n  disable: [FT101, FT102, FT105, FT403]\n")
    path = tmp_path / "spec.yaml"
    path.write_text(spec, encoding="utf-8")
    return str(path)


def _check_remedies(spec_path: str) -> list:
    """Plan the spec; for a plan that does not fit, plan every remedy again from its --set values. The remedies."""
    try:
        planned = plan_spec(spec_path)
    except NoPlan as exc:
        # The one combination of the matrix the planner refuses itself: no plan, so no remedies either.
        assert "ZeRO-3 cannot shard 4-bit" in exc.findings[0].message, [f.message for f in exc.findings]
        return []
    plan = planned.plan
    if plan.fits is not False:
        assert plan.remedies == []
        return []
    assert plan.remedies, "a plan that does not fit offers at least one change"
    assert json.loads(json.dumps(plan.estimate["fit"]["remedies"])) == [r.model_dump() for r in plan.remedies]
    for remedy in plan.remedies:
        assert remedy.sets, remedy.action
        try:
            again = plan_loaded(with_sets(planned.loaded, remedy.sets)).plan
        except NoPlan as exc:
            pytest.fail(f"{remedy.action} ({remedy.sets}) is refused: {[f.message for f in exc.findings]}")
        assert again.peak_memory_gib_per_device == remedy.memory_gib, remedy.action
        assert again.fits is remedy.fits, remedy.action
        if remedy.fits:
            assert again.peak_memory_gib_per_device <= again.estimate["fit"]["limit_gib"]
        if again.layout.num_processes > 1 and again.spec.adapter.type == "qlora":
            assert again.layout.distributed != "zero3"
    return plan.remedies


@pytest.mark.parametrize("model, adapter, layout, length", _cases())
def test_every_remedy_is_a_spec_the_plan_accepts(tmp_path, model, adapter, layout, length):
    accelerator, gpus, distributed = layout
    _check_remedies(_project(tmp_path, model, adapter, accelerator, gpus, distributed, length))


def test_the_matrix_does_not_fit_often_enough_to_mean_something(tmp_path):
    offered = []
    for n, (model, adapter) in enumerate((("llama3.1-70b", "full"), ("qwen2.5-7b", "full"), ("llama3.1-8b", "lora"))):
        folder = tmp_path / str(n)
        folder.mkdir()
        offered += _check_remedies(_project(folder, model, adapter, "l4", 1, "auto", "16k"))
    kinds = {key for r in offered for key in r.change}
    assert {"adapter", "micro_batch_size", "num_processes", "seq_len"} <= kinds


def test_qlora_is_sharded_with_fsdp_never_zero3(tmp_path):
    """A QLoRA 70B on one 40 GB card was told to shard with ZeRO-3, which the layout refuses for 4-bit weights."""
    spec = _project(tmp_path, "llama3.1-70b", "qlora", "a100-40gb", 1, "auto", "2k")
    remedies = _check_remedies(spec)
    (shard,) = [r for r in remedies if "num_processes" in r.change]
    assert "compute.distributed=fsdp" in shard.sets and "FSDP" in shard.action
    zero3 = [s.replace("fsdp", "zero3") for s in shard.sets]
    with pytest.raises(NoPlan, match="no plan"):
        plan_loaded(with_sets(load_spec(spec), zero3))


def test_qlora_under_a_zero3_layout_comes_with_fsdp(tmp_path):
    spec = _project(tmp_path, "llama3.1-70b", "full", "a100-40gb", 8, "zero3", "16k")
    (qlora,) = [r for r in _check_remedies(spec) if r.change.get("adapter") == "qlora"]
    assert "compute.distributed=fsdp" in qlora.sets and qlora.change["distributed"] == "fsdp"
    assert "ZeRO-3 cannot shard 4-bit weights" in qlora.action


def test_zero3_without_deepspeed_is_offered_as_fsdp(tmp_path, monkeypatch):
    monkeypatch.setattr("ftspec.lint.rules.ft009_zero_needs_deepspeed.deepspeed_installed", lambda: False)
    spec = _project(tmp_path, "qwen2.5-7b", "full", "a100-40gb", 1, "auto", "2k")
    (shard,) = [r for r in _check_remedies(spec) if "num_processes" in r.change]
    assert shard.change["distributed"] == "fsdp" and "compute.distributed=fsdp" in shard.sets


def test_micro_batch_and_max_length_remedies_keep_the_effective_batch_and_say_what_they_cut(tmp_path):
    spec = _project(tmp_path, "llama3.1-70b", "qlora", "l4", 1, "auto", "16k")
    remedies = {next(iter(r.change)): r for r in _check_remedies(spec)}
    mbs = remedies["micro_batch_size"]
    batch = int(mbs.sets[0].split("=")[1])
    assert mbs.sets == [f"training.batch_size={batch}", f"training.gradient_accumulation={8 // batch}"]
    assert remedies["seq_len"].action.startswith("shorten data.max_length 16384 -> ")


def test_a_remedy_with_no_spec_key_is_not_offered():
    remedy = Remedy("something the spec cannot say", {"unknown_knob": 1}, 1.0, True)
    assert candidates(remedy, spec=None, layout=None) == []


def test_kernel_remedies_are_spec_keys():
    for change, values in (({"loss_impl": "fused"}, {"training.loss_kernel": "fused"}),
                           ({"attention_impl": "sdpa"}, {"training.attention": "sdpa"}),
                           ({"optimizer": "adamw8bit"}, {"training.optimizer": "adamw_8bit"})):
        assert candidates(Remedy("r", change, 1.0, True), spec=None, layout=None) == [("r", values)]


@pytest.mark.parametrize("short_samples", [3, 0])
def test_a_shorter_max_length_is_planned_with_the_samples_it_drops(tmp_path, llama31_dir, short_samples):
    """With a tokenizer the re-plan counts what a shorter max_length drops: the remedy says so and carries the memory
    of what is left; one that would drop every sample (no plan: FT110) is not offered at all."""
    from ftspec.models.architectures import find_architecture
    from ftspec.plan.compile import build_plan

    model = tmp_path / "m"
    model.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (model / name).write_bytes((llama31_dir / name).read_bytes())
    (model / "config.json").write_text(json.dumps(find_architecture("meta-llama/Llama-3.1-70B-Instruct")))
    answers = ["word " * (20 if i < short_samples else 1500) for i in range(12)]
    rows = "".join(json.dumps({"messages": [{"role": "user", "content": f"q {i}"},
                                            {"role": "assistant", "content": answer}]}) + "\n"
                   for i, answer in enumerate(answers))
    (tmp_path / "train.jsonl").write_text(rows, encoding="utf-8")
    (tmp_path / "spec.yaml").write_text(
        "version: 1\nname: t\nmodel: {base: ./m}\nadapter: {type: qlora}\ncompute: {accelerator: l4}\n"
        "data: {train: train.jsonl, validation: 0.2, max_length: 4096, over_length: drop}\n"
        "lint: {disable: [FT101, FT102, FT105, FT403]}\n", encoding="utf-8")
    offered = {next(iter(r.change)): r for r in _check_remedies(str(tmp_path / "spec.yaml"))}
    proposed = build_plan(load_spec(tmp_path / "spec.yaml"), remedies=False).estimate["fit"]["remedies"]
    assert "seq_len" in {next(iter(r["change"])) for r in proposed}
    if short_samples:
        shorter = offered["seq_len"]
        assert shorter.action.endswith(f"({10 - short_samples} of 10 samples dropped)")
        estimated = next(r for r in proposed if "seq_len" in r["change"])
        assert shorter.memory_gib < estimated["memory_gib"]  # the estimate assumed samples of the full new length
    else:
        assert "seq_len" not in offered
