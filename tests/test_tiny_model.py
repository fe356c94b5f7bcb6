"""The built-in tiny model: deterministic files, loadable and trainable by transformers/PEFT, and resolve_model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftspec.models import tiny
from ftspec.models.resolve import ModelRef, hf_hub_cache, resolve_model
from ftspec.models.tiny import TINY_ID, TinySizes, tiny_model_dir, write_tiny_model_files

REPO = Path(__file__).resolve().parents[1]


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True, check=True)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(autouse=True)
def ftspec_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "ftspec-home"
    monkeypatch.setenv("FTSPEC_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return write_tiny_model_files(tmp_path_factory.mktemp("tiny") / "model", with_weights=True)


# --- files ---------------------------------------------------------------------------------


def test_materialization_is_byte_identical_across_runs_and_processes(tmp_path, ftspec_home):
    first = folder_bytes(write_tiny_model_files(tmp_path / "a", with_weights=True))
    assert sorted(first) == ["config.json", "generation_config.json", "model.safetensors",
                             "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]
    assert first == folder_bytes(write_tiny_model_files(tmp_path / "b", with_weights=True))

    code = "from ftspec.models.tiny import tiny_model_dir; print(tiny_model_dir(with_weights=True))"
    fresh = Path(run_python(code, {"FTSPEC_HOME": str(ftspec_home)}).stdout.strip())
    assert fresh.parent == ftspec_home / "builtin"
    assert fresh.name == f"tiny-{tiny.definition_hash()}"
    assert folder_bytes(fresh) == first


def test_config_and_tokenizer_need_neither_torch_nor_transformers(ftspec_home):
    code = (
        "import sys, json\n"
        "from ftspec.models.resolve import resolve_model\n"
        "ref = resolve_model('builtin:tiny')\n"
        "assert ref.config['vocab_size'] == 259 and ref.tokenizer_file.is_file()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'safetensors', 'huggingface_hub'))))\n"
    )
    assert json.loads(run_python(code, {"FTSPEC_HOME": str(ftspec_home)}).stdout) == []
    folder = next((ftspec_home / "builtin").iterdir())
    assert not (folder / tiny.WEIGHTS_FILE).exists()


def test_weights_are_added_to_an_existing_folder_and_the_cache_is_reused(ftspec_home):
    light = tiny_model_dir()
    assert not (light / tiny.WEIGHTS_FILE).exists()
    full = tiny_model_dir(with_weights=True)
    assert full == light and (full / tiny.WEIGHTS_FILE).is_file()
    assert [p.name for p in (ftspec_home / "builtin").iterdir()] == [full.name]  # no temp leftovers
    assert sorted(p.name for p in full.iterdir() if p.name.startswith(".")) == []


def test_a_failed_writer_leaves_no_folder(tmp_path, monkeypatch):
    def boom(sizes):
        raise RuntimeError("killed")

    monkeypatch.setattr(tiny, "weights_bytes", boom)
    with pytest.raises(RuntimeError):
        write_tiny_model_files(tmp_path / "m", with_weights=True)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_from_a_concurrent_writer_is_kept(tmp_path):
    dest = write_tiny_model_files(tmp_path / "m", with_weights=False)
    before = folder_bytes(dest)
    assert write_tiny_model_files(dest, with_weights=False) == dest
    assert folder_bytes(dest) == before


def test_sizes_change_the_cache_folder():
    small = TinySizes(hidden_size=32, intermediate_size=64)
    assert tiny_model_dir(sizes=small) != tiny_model_dir()
    assert json.loads((tiny_model_dir(sizes=small) / "config.json").read_text())["hidden_size"] == 32
    with pytest.raises(ValueError):
        TinySizes(hidden_size=30, num_attention_heads=4)


def test_tokenizer_config_carries_the_generation_template():
    config = json.loads((tiny_model_dir() / "tokenizer_config.json").read_text())
    assert "{%- generation %}" in config["chat_template"]
    assert (config["eos_token"], config["pad_token"]) == ("<|im_end|>", "<|endoftext|>")


# --- transformers / PEFT -------------------------------------------------------------------


def test_loads_with_transformers(model_dir):
    transformers = pytest.importorskip("transformers")
    model, info = transformers.AutoModelForCausalLM.from_pretrained(model_dir, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert model.num_parameters() == TinySizes().parameter_count
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    assert (tok.eos_token_id, tok.pad_token_id, len(tok)) == (258, 256, 259)
    text = "中文 round-trips exactly: 你好，世界！\t\n  e\u0301 🙂"
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


@pytest.mark.slow
def test_forward_and_three_optimizer_steps_lower_the_loss(model_dir):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    chats = [[{"role": "user", "content": f"copy {w}"}, {"role": "assistant", "content": w}]
             for w in ("alpha", "beta", "gamma", "delta")]
    batch = tok.apply_chat_template(chats, padding=True, return_tensors="pt", return_dict=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[0] > losses[1] > losses[2]


@pytest.mark.slow
def test_peft_all_linear_adapter_round_trips(model_dir, tmp_path):
    torch = pytest.importorskip("torch")
    peft = pytest.importorskip("peft")
    transformers = pytest.importorskip("transformers")
    base = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
    config = peft.LoraConfig(r=8, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM")
    model = peft.get_peft_model(base, config)
    targeted = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules() if name.endswith("_proj")}
    assert targeted == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    chosen = {name.rsplit(".", 1)[-1] for name in model.peft_config["default"].target_modules}
    assert chosen == targeted  # every Linear but lm_head
    ids = torch.tensor([[257, 104, 105, 258]])
    model(input_ids=ids, labels=ids).loss.backward()
    model.save_pretrained(tmp_path / "adapter")
    reloaded = peft.PeftModel.from_pretrained(
        transformers.AutoModelForCausalLM.from_pretrained(model_dir), tmp_path / "adapter")
    assert reloaded(input_ids=ids).logits.shape == (1, 4, 259)


# --- resolve_model -------------------------------------------------------------------------


def test_resolve_builtin():
    ref = resolve_model(TINY_ID)
    assert ref.kind == "builtin" and ref.local_dir == tiny_model_dir()
    assert ref.config["model_type"] == "llama" and ref.tokenizer_file == ref.local_dir / "tokenizer.json"
    with pytest.raises(ValueError, match="unknown builtin"):
        resolve_model("builtin:huge")


def test_resolve_local_folder_relative_to_spec_dir(tmp_path):
    spec_dir = tmp_path / "project"
    write_tiny_model_files(spec_dir / "models" / "mine", with_weights=False)
    for base in ("models/mine", "./models/mine"):
        ref = resolve_model(base, spec_dir=spec_dir)
        assert ref.kind == "local" and ref.local_dir == (spec_dir / "models" / "mine").resolve()
        assert ref.config["vocab_size"] == 259 and ref.tokenizer_file.name == "tokenizer.json"
    absolute = resolve_model(str(spec_dir / "models" / "mine"))
    assert absolute.kind == "local" and absolute.config is not None


def test_resolve_missing_local_folder_is_local_without_files(tmp_path):
    ref = resolve_model("./nowhere", spec_dir=tmp_path)
    assert ref == ModelRef(base="./nowhere", kind="local", local_dir=(tmp_path / "nowhere").resolve())
    assert ref.config is None and ref.tokenizer_file is None


def make_hf_cache(root: Path, repo_id: str, commit: str, ref_name: str = "main") -> Path:
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (snapshot / name).write_bytes((tiny_model_dir() / name).read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / ref_name).write_text(commit)  # huggingface_hub writes it without a newline
    return snapshot


def test_resolve_from_fake_hf_cache(tmp_path, monkeypatch):
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = make_hf_cache(tmp_path / "hub", "Qwen/Qwen2.5-0.5B-Instruct", commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    ref = resolve_model("Qwen/Qwen2.5-0.5B-Instruct")
    assert ref.kind == "hub-cache" and ref.local_dir == snapshot
    assert ref.config["vocab_size"] == 259 and ref.tokenizer_file == snapshot / "tokenizer.json"
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct", revision=commit).local_dir == snapshot
    # A revision the cache has no ref for is not local, whatever main points to.
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct", revision="v2").kind == "hub"


def test_hf_cache_location_follows_the_environment(tmp_path, monkeypatch):
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert hf_hub_cache() == Path.home() / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert hf_hub_cache() == tmp_path / "hf" / "hub"
    make_hf_cache(tmp_path / "hf" / "hub", "org/model", "f" * 40)
    assert resolve_model("org/model").kind == "hub-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert hf_hub_cache() == tmp_path / "elsewhere"


def test_resolve_missing_hub_model_never_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    ref = resolve_model("meta-llama/Llama-3.2-1B", revision="main")
    assert ref == ModelRef(base="meta-llama/Llama-3.2-1B", kind="hub", revision="main")
    assert ref.local_dir is None and ref.config is None and ref.tokenizer_file is None
    assert hash(ref) == hash(ModelRef(base="meta-llama/Llama-3.2-1B", kind="hub", revision="main"))
