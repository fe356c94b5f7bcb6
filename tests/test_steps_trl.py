"""ftspec's torch-free step prediction against the real TRL SFTTrainer on the built-in tiny model.

Each configuration builds a real ``trl.SFTTrainer`` (full fine-tuning, CPU), trains it, and asserts
``trainer.state.global_step`` equals ``optimizer_steps(N)`` where N comes from ftspec's torch-free replica
of TRL's preparation (``ChatTokenizer`` token ids, truncation, fully-masked drops, packing).
World size > 1 cannot run here: those cases are checked against the formula only (the accelerate
``BatchSamplerShard`` / transformers ``set_initial_training_values`` arithmetic, worked by hand).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from ftspec.data.packing import packed_rows, sft_kept_lengths, sft_train_rows
from ftspec.core.steps import batches_per_rank, optimizer_steps, updates_per_epoch

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
transformers = pytest.importorskip("transformers")

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho".split()


@dataclass(frozen=True)
class Case:
    name: str
    fmt: str  # text | messages | messages_aol (assistant_only_loss) | pc (conversational prompt-completion)
    n: int
    epochs: float = 1.0
    bs: int = 2
    ga: int = 1
    max_length: int | None = 1024
    packing: bool = False
    strategy: str = "bfd"
    drop_last: bool = False
    n_val: int = 0  # validation split taken off the front: the train N shrinks
    seed: int = 0
    long_prompt: int = 0  # every k-th example gets a long prompt (drop candidates with small max_length)


CASES = [
    Case("text-basic", "text", 7),
    Case("text-ga3", "text", 11, bs=2, ga=3),
    Case("text-frac-epoch", "text", 9, epochs=1.5, bs=2, ga=2),
    Case("text-frac-small", "text", 10, epochs=0.3, bs=1, ga=3),
    Case("text-2.25-epochs", "text", 6, epochs=2.25, bs=4),
    Case("text-drop-last", "text", 9, bs=2, drop_last=True),
    Case("text-drop-last-ga", "text", 13, bs=3, ga=2, drop_last=True),
    Case("text-truncated", "text", 8, max_length=16, bs=3),
    Case("text-val-split", "text", 12, n_val=3, bs=2, ga=2),
    Case("messages-basic", "messages", 8, bs=3, ga=2, epochs=2),
    Case("messages-trunc", "messages", 9, max_length=24, bs=2),
    Case("messages-aol-drop", "messages_aol", 12, max_length=40, bs=2, long_prompt=3),
    Case("messages-aol-drop-ga", "messages_aol", 14, max_length=40, bs=1, ga=4, epochs=1.5, long_prompt=2),
    Case("pc-drop", "pc", 12, max_length=36, bs=2, long_prompt=2),
    Case("pc-drop-val", "pc", 15, max_length=36, bs=2, ga=2, n_val=4, long_prompt=3),
    Case("pc-nodrop", "pc", 7, bs=2, ga=2, epochs=3),
    Case("pack-bfd-text", "text", 20, max_length=64, packing=True, bs=2),
    Case("pack-bfd-text-trunc", "text", 16, max_length=20, packing=True, bs=2, ga=2),
    Case("pack-bfd-messages", "messages", 18, max_length=96, packing=True, bs=1, ga=2, epochs=1.5),
    Case("pack-bfd-pc-no-drop", "pc", 12, max_length=36, packing=True, bs=2, long_prompt=2),
    Case("pack-bfd-split", "text", 14, max_length=24, packing=True, strategy="bfd_split", bs=2),
    Case("pack-wrapped", "text", 15, max_length=32, packing=True, strategy="wrapped", bs=2, ga=2),
    Case("pack-wrapped-drop-last", "messages", 10, max_length=50, packing=True, strategy="wrapped", bs=3,
         drop_last=True, epochs=2),
    Case("pack-bfd-val", "text", 18, max_length=48, packing=True, n_val=5, bs=2, epochs=0.5),
]


def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def make_rows(case: Case) -> list[dict]:
    rng = random.Random(case.seed * 1000 + case.n)
    rows = []
    for i in range(case.n):
        long = bool(case.long_prompt) and i % case.long_prompt == 0
        prompt = _sentence(rng, 8, 14) if long else _sentence(rng, 1, 4)
        answer = _sentence(rng, 1, 6)
        if case.fmt == "text":
            rows.append({"text": prompt + " " + answer})
        elif case.fmt in ("messages", "messages_aol"):
            rows.append({"messages": [{"role": "user", "content": prompt},
                                      {"role": "assistant", "content": answer}]})
        else:
            rows.append({"prompt": [{"role": "user", "content": prompt}],
                         "completion": [{"role": "assistant", "content": answer}]})
    return rows


def torch_free_lengths(case: Case, rows: list[dict], ct) -> tuple[list[int], list[int | None]]:
    """Token lengths and first-loss index per example, as TRL would produce them, without transformers."""
    lengths, first_loss = [], []
    for row in rows:
        if case.fmt == "text":
            text = row["text"]
            if not text.endswith(ct.eos_token):
                text += ct.eos_token  # SFTTrainer appends EOS to plain text
            ids = ct.encode(text, add_special_tokens=True)
            lengths.append(len(ids))
            first_loss.append(0)
        elif case.fmt in ("messages", "messages_aol"):
            ids, mask = ct.encode_chat(row["messages"])
            lengths.append(len(ids))
            if case.fmt == "messages_aol":
                first_loss.append(mask.index(1) if 1 in mask else None)
            else:
                first_loss.append(0)
        else:  # prompt-completion: completion_only_loss defaults on, the loss starts after the common prefix
            prompt_ids, _ = ct.encode_chat(row["prompt"], add_generation_prompt=True)
            full_ids, _ = ct.encode_chat(row["prompt"] + row["completion"])
            prefix = 0
            while prefix < min(len(prompt_ids), len(full_ids)) and prompt_ids[prefix] == full_ids[prefix]:
                prefix += 1
            lengths.append(len(full_ids))
            first_loss.append(prefix if prefix < len(full_ids) else None)
    return lengths, first_loss


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from ftspec.models.tiny import write_tiny_model_files
    from ftspec.tokenizer.chat import ChatTokenizer

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    folder = write_tiny_model_files(tmp_path_factory.mktemp("tiny-steps") / "model", with_weights=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    return model, tokenizer, ChatTokenizer.from_files(folder / "tokenizer.json"), tmp_path_factory.mktemp("out")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_global_step_matches_prediction(case: Case, tiny):
    model, tokenizer, ct, out = tiny
    rows = make_rows(case)
    train_rows, eval_rows = rows[case.n_val:], rows[:case.n_val]

    # --- prediction: no torch, no transformers ---
    lengths, first_loss = torch_free_lengths(case, train_rows, ct)
    n_train = sft_train_rows(lengths, first_loss, max_length=case.max_length, packing=case.packing,
                             strategy=case.strategy)
    predicted = optimizer_steps(n_train, epochs=case.epochs, per_device_batch=case.bs, grad_accum=case.ga,
                                world_size=1, drop_last=case.drop_last)

    # --- the real trainer ---
    config = trl.SFTConfig(
        output_dir=str(out / case.name), max_steps=-1, num_train_epochs=case.epochs,
        per_device_train_batch_size=case.bs, gradient_accumulation_steps=case.ga, max_length=case.max_length,
        packing=case.packing, packing_strategy=case.strategy, dataloader_drop_last=case.drop_last,
        assistant_only_loss=case.fmt == "messages_aol", report_to=[], save_strategy="no", eval_strategy="no",
        use_cpu=True, bf16=False, activation_checkpointing=False, logging_strategy="no", disable_tqdm=True,
        learning_rate=1e-4, seed=case.seed,
    )
    trainer = trl.SFTTrainer(
        model=model, args=config, processing_class=tokenizer,
        train_dataset=datasets.Dataset.from_list(train_rows),
        eval_dataset=datasets.Dataset.from_list(eval_rows) if eval_rows else None,
    )
    assert len(trainer.train_dataset) == n_train
    if not case.packing:  # the replica keeps the same examples, at the same truncated lengths
        kept = sft_kept_lengths(lengths, first_loss, max_length=case.max_length)
        assert [len(x) for x in trainer.train_dataset["input_ids"]] == kept
    trainer.train()
    assert trainer.state.global_step == predicted
    assert trainer.state.max_steps == predicted


def test_the_matrix_exercises_drops_truncation_and_packing(tiny):
    """Guard that the matrix really covers what it claims: drops, truncation and packing that merges."""
    _, _, ct, _ = tiny
    dropped = truncated = merged = 0
    for case in CASES:
        rows = make_rows(case)[case.n_val:]
        lengths, first_loss = torch_free_lengths(case, rows, ct)
        if case.max_length is None:
            continue
        if case.packing:
            merged += packed_rows(lengths, case.max_length, case.strategy) != len(lengths)  # merges or splits
        else:
            dropped += len(sft_kept_lengths(lengths, first_loss, max_length=case.max_length)) < len(lengths)
            truncated += any(n > case.max_length for n in lengths)
    assert dropped >= 3 and truncated >= 4 and merged >= 5


# --- formula-only checks (world size > 1 cannot be trained here) ----------------------------------------


@pytest.mark.parametrize(
    ("n", "epochs", "bs", "ga", "world", "drop_last", "expected"),
    [
        (100, 1, 4, 1, 2, False, 13),  # 25 batches -> ceil(25/2)=13 per rank
        (100, 1, 4, 4, 2, False, 4),  # 13 batches per rank -> ceil(13/4)=4
        (100, 3, 4, 4, 2, False, 12),
        (101, 1, 4, 1, 4, False, 7),  # 26 batches -> ceil(26/4)=7
        (101, 1, 4, 1, 4, True, 6),  # 25 full batches -> floor(25/4)=6
        (10, 1, 4, 8, 8, False, 1),  # 3 batches, ranks padded to 1 batch each, at least 1 update
        (1000, 0.5, 8, 4, 3, False, 6),  # 125 batches -> 42 per rank -> 11 updates -> ceil(5.5)=6
        (1000, 2.5, 8, 4, 3, True, 28),  # 125 full batches -> floor(125/3)=41 per rank -> 11 -> ceil(27.5)=28
    ],
)
def test_multi_rank_formula(n, epochs, bs, ga, world, drop_last, expected):
    assert optimizer_steps(n, epochs=epochs, per_device_batch=bs, grad_accum=ga, world_size=world,
                           drop_last=drop_last) == expected


def test_single_rank_formula_edges():
    # ceil for the grad-accum division (transformers >= PR #37923), ceil for fractional epochs
    assert updates_per_epoch(10, per_device_batch=1, grad_accum=4) == 3
    assert optimizer_steps(10, epochs=0.1, per_device_batch=1, grad_accum=4) == 1
    assert batches_per_rank(7, per_device_batch=2, drop_last=True) == 3
    with pytest.raises(ValueError):  # transformers raises on an empty train dataloader
        optimizer_steps(1, epochs=1, per_device_batch=2, grad_accum=1, drop_last=True)
    with pytest.raises(ValueError):
        optimizer_steps(0, epochs=1, per_device_batch=2, grad_accum=1)


# --- the packing replica against trl.pack_dataset on random lengths ----------------------------------------


@pytest.mark.parametrize("strategy", ["bfd", "bfd_split", "wrapped"])
def test_packing_replica_matches_trl_pack_dataset(strategy):
    from datasets import Dataset, Features, Sequence, Value
    from trl.data_utils import pack_dataset

    from ftspec.data.packing import pack_bfd, pack_lengths

    datasets.disable_progress_bars()
    features = Features({"input_ids": Sequence(Value("int64"))})
    rng = random.Random(7)
    trials = [(rng.randint(1, 40), rng.randint(1, 64)) for _ in range(25)] + [(1500, 37)]  # 1500: two map batches
    for n, max_length in trials:
        lengths = [rng.choice([0, rng.randint(1, 30), rng.randint(1, 90)]) for _ in range(n)]
        lengths[0] = lengths[-1] = rng.randint(1, 90)  # TRL's bfd crashes on a map batch of only empty sequences
        ds = Dataset.from_dict({"input_ids": [list(range(1, k + 1)) for k in lengths]}, features=features)
        packed = pack_dataset(ds, max_length, strategy)
        assert [len(r) for r in packed["input_ids"]] == pack_lengths(lengths, max_length, strategy)
        if strategy != "wrapped":
            assert [list(s) for s in packed["seq_lengths"]] == pack_bfd(lengths, max_length,
                                                                        split=strategy == "bfd_split")
