#!/usr/bin/env python3
"""Pretrain ``builtin:tiny-chat`` from scratch on the synthetic corpus, deterministically, on CPU.

    .venv/bin/python scripts/tiny_chat/pretrain.py                    # the shipped run (~25 min, 1 thread)
    .venv/bin/python scripts/tiny_chat/pretrain.py --steps 40 --out /tmp/tc   # a short run

Steps: generate the corpus (corpus.py), train a byte-level BPE tokenizer on it (``tokenizers``),
build a small Llama, train it on packed ChatML conversations with AdamW, then write a model folder like
any hub model's (config.json, generation_config.json, tokenizer files with the ChatML template,
model.safetensors) plus SHA256SUMS. One CPU thread, fixed seeds and a fixed data order make a re-run
write the same bytes. A checkpoint every --save-every steps in --work lets a killed run continue.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import corpus  # noqa: E402

DEFAULT_CONVERSATIONS = 120_000
PAD, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
# Letters of one script, single digits, single spaces and single punctuation marks are the units BPE
# may merge within, so a code is the same tokens wherever it is written, with or without spaces
# around its "-" and "/" (the spaces are tokens of their own).
PRETOKENIZE = r"\p{Han}+|[A-Za-z]+|\p{L}+|\p{N}|\s|[^\s\p{L}\p{N}]"


def build_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  special_tokens=[PAD, IM_START, IM_END],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def render(conv: list[dict]) -> str:
    """The chat template's text for a whole conversation (checked against the template in tests)."""
    return "".join(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in conv)


def pack(token_lists: list[list[int]], length: int, pad_id: int) -> list[list[int]]:
    rows, row = [], []
    for ids in token_lists:
        ids = ids[:length]
        if len(row) + len(ids) > length:
            rows.append(row + [pad_id] * (length - len(row)))
            row = []
        row += ids
    if row:
        rows.append(row + [pad_id] * (length - len(row)))
    return rows


def answer_labels(row: list[int], assistant: list[int], im_start: int, im_end: int, pad_id: int) -> list[int]:
    """Labels for one packed row: its assistant turns (content and <|im_end|>), -100 elsewhere."""
    labels, i, n = [-100] * len(row), 0, len(row)
    k = len(assistant)
    while i < n:
        if row[i] == im_start and row[i + 1:i + 1 + k] == assistant:
            j = i + 1 + k  # past "<|im_start|>assistant\n"
            while j < n and row[j] != pad_id:
                labels[j] = row[j]
                if row[j] == im_end:
                    break
                j += 1
            i = j
        i += 1
    return labels


def probe_prompts(n: int, seed: int) -> list[tuple[list[dict], str, str]]:
    """Fresh building-materials and copy prompts: (messages, expected canonical answer, kind)."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        if len(out) % 2 == 0:
            conv = corpus.bm_conversation(rng)
            kind = "bm"
        else:
            conv = corpus.general_conversation(rng)
            kind = "general"
        out.append(([{"role": "system", "content": "你是建材家装助手。"}, conv[0]], corpus.canonical(conv[1]["content"]), kind))
    return out


def greedy(model, tok_hf, prompts: list[list[dict]], max_new_tokens: int = 32) -> list[str]:
    import torch

    texts = [render(p) + f"{IM_START}assistant\n" for p in prompts]
    tok_hf.padding_side = "left"
    batch = tok_hf(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    model.eval()
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tok_hf.pad_token_id, eos_token_id=tok_hf.convert_tokens_to_ids(IM_END))
    model.train()
    return [t.strip() for t in tok_hf.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)]


def probe(model, tok_hf, prompts) -> dict:
    outs = greedy(model, tok_hf, [p for p, _, _ in prompts])
    res = {}
    for kind in ("bm", "general"):
        rows = [(o, want) for o, (_, want, k) in zip(outs, prompts) if k == kind]
        res[f"{kind}_raw"] = sum(o == want for o, want in rows) / len(rows)
        res[f"{kind}_guard"] = sum(corpus.canonical(o) == want for o, want in rows) / len(rows)
    res["examples"] = [[p[-1]["content"], o] for (p, _, _), o in list(zip(prompts, outs))[:4]]
    return res


def write_model_folder(out: Path, tok, model, vocab_size: int) -> None:
    from ftspec.models.tiny import CHAT_TEMPLATE

    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in (PAD, IM_START, IM_END)}
    added = {str(ids[t]): {"content": t, "single_word": False, "lstrip": False, "rstrip": False,
                           "normalized": False, "special": True} for t in (PAD, IM_START, IM_END)}
    tok_config = {"added_tokens_decoder": added, "bos_token": None, "chat_template": CHAT_TEMPLATE,
                  "clean_up_tokenization_spaces": False, "eos_token": IM_END, "model_max_length": 512,
                  "pad_token": PAD, "split_special_tokens": False, "tokenizer_class": "PreTrainedTokenizerFast",
                  "unk_token": None}
    dump = lambda obj: json.dumps(obj, indent=2, ensure_ascii=False) + "\n"  # noqa: E731
    (out / "tokenizer_config.json").write_text(dump(tok_config), encoding="utf-8")
    (out / "special_tokens_map.json").write_text(dump({"eos_token": IM_END, "pad_token": PAD}), encoding="utf-8")
    # Like Qwen2.5-Instruct: stop at end-of-turn or end-of-text.
    gen = {"bos_token_id": None, "eos_token_id": [ids[IM_END], ids[PAD]], "pad_token_id": ids[PAD]}
    (out / "generation_config.json").write_text(dump(gen), encoding="utf-8")
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    os.chmod(out / "model.safetensors", 0o644)
    cfg = json.loads(model.config.to_json_string(use_diff=True))  # what save_pretrained writes
    cfg.pop("transformers_version", None)  # so that the bytes do not depend on the installed version
    cfg["architectures"] = ["LlamaForCausalLM"]
    (out / "config.json").write_text(dump(dict(sorted(cfg.items()))), encoding="utf-8")
    sums = "".join(f"{hashlib.sha256((out / n).read_bytes()).hexdigest()}  {n}\n"
                   for n in sorted(("config.json", "generation_config.json", "model.safetensors", "special_tokens_map.json",
                                    "tokenizer.json", "tokenizer_config.json")))
    (out / "SHA256SUMS").write_text(sums, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "ftspec" / "models" / "tiny_chat")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "tiny-chat-pretrain")
    ap.add_argument("--conversations", type=int, default=DEFAULT_CONVERSATIONS)
    ap.add_argument("--vocab", type=int, default=2000)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=384)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=1300)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--probe-every", type=int, default=200)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--phase2-steps", type=int, default=300)
    ap.add_argument("--phase2-lr", type=float, default=1e-3)
    ap.add_argument("--phase2-conversations", type=int, default=40_000)
    ap.add_argument("--answers-only-from", type=int, default=600,
                    help="from this step on, the loss covers the assistant turns only")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    t0 = time.time()
    convs = corpus.conversations(args.conversations)
    texts = [m["content"] for conv in convs for m in conv]
    tok = build_tokenizer(texts, args.vocab)
    tok_hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=IM_END, pad_token=PAD)
    pad_id = tok.token_to_id(PAD)
    im_start_id, im_end_id = tok.token_to_id(IM_START), tok.token_to_id(IM_END)
    assistant_ids = tok.encode("assistant\n", add_special_tokens=False).ids
    encoded = [e.ids for e in tok.encode_batch([render(c) for c in convs], add_special_tokens=False)]
    n_tokens = sum(map(len, encoded))
    print(f"corpus: {len(convs)} conversations, {n_tokens} tokens ({n_tokens / len(convs):.1f} per conversation), "
          f"vocab {tok.get_vocab_size()}, {time.time() - t0:.0f}s", flush=True)

    config = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=args.hidden, intermediate_size=args.ffn,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads,
                         num_key_value_heads=args.kv_heads, max_position_embeddings=512, rms_norm_eps=1e-6,
                         tie_word_embeddings=True, bos_token_id=None, eos_token_id=tok.token_to_id(IM_END),
                         pad_token_id=pad_id, rope_theta=10000.0, attention_dropout=0.0, dtype="float32")
    model = LlamaForCausalLM(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters", flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-8)

    # Warmup, then constant, then a linear decay over the last fifth (warmup-stable-decay): the first
    # 80 % of a run does not depend on its length, so a short pilot is the start of the long run.
    decay_from = int(args.steps * 0.8)

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        if step < decay_from:
            return args.lr
        return args.lr * (1 - 0.9 * (step - decay_from) / max(1, args.steps - decay_from))

    # Phase 2 continues from the phase-1 weights with a fresh optimizer on a second corpus: free
    # phrasings of the building-materials turns (the span anywhere in a sentence), answers only.
    def lr2_at(s2: int) -> float:
        half = args.phase2_steps // 2
        if s2 < 20:
            return args.phase2_lr * (s2 + 1) / 20
        if s2 < half:
            return args.phase2_lr
        return args.phase2_lr * (1 - 0.9 * (s2 - half) / max(1, args.phase2_steps - half))

    data = {"encoded": encoded, "seed": args.seed * 1000}

    def enter_phase2():
        convs2 = corpus.conversations(args.phase2_conversations, seed=corpus.SEED + 1, free_share=0.7)
        data["encoded"] = [e.ids for e in tok.encode_batch([render(c) for c in convs2], add_special_tokens=False)]
        data["seed"] = args.seed * 1000 + 500
        print(f"phase 2: {len(convs2)} conversations, {sum(map(len, data['encoded']))} tokens", flush=True)
        return torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                 lr=args.phase2_lr, betas=(0.9, 0.98), eps=1e-8)

    # The data order is a function of the phase and the epoch number alone.
    def epoch_rows(epoch: int) -> list[list[int]]:
        order = list(range(len(data["encoded"])))
        random.Random(data["seed"] + epoch).shuffle(order)
        return pack([data["encoded"][i] for i in order], args.seq, pad_id)

    total = args.steps + args.phase2_steps
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    ckpt = work / "checkpoint.pt"
    step = 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        step = state["step"]
        if step >= args.steps:
            opt = enter_phase2()
        if state.get("opt") is not None:
            opt.load_state_dict(state["opt"])
        print(f"resumed at step {step}", flush=True)
    probes = probe_prompts(60, seed=99)
    per_epoch = len(epoch_rows(0)) // args.batch  # batches per epoch, fixed by the phase's epoch 0
    epoch, rows = -1, []
    log = []
    model.train()
    t_start, tokens_seen = time.time(), 0
    while step < total:
        if step == args.steps and data["encoded"] is encoded:
            opt = enter_phase2()
            per_epoch, epoch = len(epoch_rows(0)) // args.batch, -1
        local = step - args.steps if step >= args.steps else step
        if local // per_epoch != epoch:
            epoch = local // per_epoch
            rows = epoch_rows(epoch)
        i = local % per_epoch
        batch = torch.tensor([rows[(i * args.batch + k) % len(rows)] for k in range(args.batch)])
        if step < args.answers_only_from:  # phase 1 at first: every token of the chats
            labels = batch.clone()
            labels[batch == pad_id] = -100
        else:  # then the assistant turns only, as chat models are tuned
            labels = torch.tensor([answer_labels(r, assistant_ids, im_start_id, im_end_id, pad_id) for r in batch.tolist()])
        lr = lr_at(step) if step < args.steps else lr2_at(step - args.steps)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = model(input_ids=batch, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens_seen += int((labels != -100).sum())
        if step % args.log_every == 0 or step == total:
            rate = tokens_seen / (time.time() - t_start)
            print(f"step {step}/{total} epoch {epoch} loss {loss.item():.4f} lr {lr:.2e} "
                  f"{rate:.0f} tok/s {time.time() - t0:.0f}s", flush=True)
            log.append({"step": step, "loss": round(loss.item(), 4)})
        if step % args.probe_every == 0 or step == total:
            print("probe", json.dumps(probe(model, tok_hf, probes), ensure_ascii=False), flush=True)
        if (step % args.save_every == 0 or step == args.steps) and step < total:
            # At the phase boundary the optimizer is not kept: phase 2 starts a fresh one.
            keep = None if step == args.steps else opt.state_dict()
            torch.save({"model": model.state_dict(), "opt": keep, "step": step}, work / "checkpoint.tmp")
            os.replace(work / "checkpoint.tmp", ckpt)
    write_model_folder(args.out, tok, model, args.vocab)
    summary = {"steps": total, "parameters": n_params, "conversations": len(convs), "corpus_tokens": n_tokens,
               "final_probe": probe(model, tok_hf, probes), "seconds": round(time.time() - t0)}
    print("done", json.dumps(summary, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
