"""Token estimates without the model on the machine, against the exact count, on each family's fixture.

Requirement (issue 14): without the model's tokenizer, the plan's token estimate includes the chat template's overhead
for catalogue models (``ftspec/models/template_overhead.py``).

For each family this measures two things:

1. **The overhead constants themselves**, re-measured from the fixture (real vocabulary, original chat template) the
   way the table says they were: ftspec's renderer renders conversations of 2 and 4 messages whose contents are one
   token each (``a``), and the rendered token counts give the per-sample and per-message terms.
2. **Estimate vs exact** on the quickstart's 360 conversations (``examples/quickstart/train.jsonl``): the plan's
   ``train_tokens.per_epoch`` with the fixture's folder as ``model.base`` (exact), and with the hub id as
   ``model.base`` in an empty, offline HF cache (estimated), once with the template overhead and once with it
   switched off (``template_overhead`` answering None: the estimate before issue 14).

Usage: python bench/bench_estimates.py
Prints one JSON line per family and PASS/FAIL per bound (the measured overhead equals the table's; the estimate
with overhead is within +-25 % of exact); always exits 0.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAMILIES = (("qwen2.5-instruct", "Qwen/Qwen2.5-0.5B-Instruct"), ("qwen3", "Qwen/Qwen3-0.6B"),
            ("llama3.2-instruct", "meta-llama/Llama-3.2-1B-Instruct"),
            ("llama3.1-instruct", "meta-llama/Llama-3.1-8B-Instruct"), ("deepseek-v3", "deepseek-ai/DeepSeek-V3"))
LINT_OFF = ["FT101", "FT102", "FT105", "FT203", "FT401", "FT403"]


def measured_overhead(model_dir: Path) -> tuple[float, float]:
    """(per sample, per message) of the template, from conversations of 2 and 4 one-token messages."""
    from ftspec.tokenizer.chat import ChatTokenizer

    tok = ChatTokenizer.from_files(model_dir / "tokenizer.json")
    content = len(tok.encode("a"))

    def rendered(n: int) -> int:
        messages = [{"role": ("user", "assistant")[i % 2], "content": "a"} for i in range(n)]
        return len(tok.encode(tok.render_chat(messages)))

    two, four = rendered(2), rendered(4)
    per_message = (four - two) / 2 - content
    return two - 2 * (per_message + content), per_message


def tokens_per_epoch(folder: Path, base: str, rows: list[dict]) -> tuple[int, bool]:
    import yaml

    from ftspec.plan.compile import build_plan
    from ftspec.spec.load import load_spec

    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                        encoding="utf-8")
    spec = {"version": 1, "name": "estimates", "model": {"base": base},
            "adapter": {"rank": 4, "alpha": 2, "dropout": 0},
            "data": {"train": "train.jsonl", "max_length": 1024}, "lint": {"disable": LINT_OFF}}
    (folder / "ftspec.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    plan = build_plan(load_spec(folder / "ftspec.yaml"))
    return plan.train_tokens.per_epoch, plan.tokens_estimated


def main() -> None:
    from unittest import mock

    from ftspec.models.fixtures.build import cached
    from ftspec.models.template_overhead import template_overhead

    rows = [json.loads(line) for line in (ROOT / "examples/quickstart/train.jsonl").read_text().splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(HF_HOME=str(Path(tmp) / "empty-hf-home"), HF_HUB_OFFLINE="1")
        for fixture, hub_id in FAMILIES:
            model_dir = cached(fixture)
            per_sample, per_message = measured_overhead(model_dir)
            table = template_overhead(hub_id)
            exact, exact_is_estimate = tokens_per_epoch(Path(tmp) / fixture / "exact", str(model_dir), rows)
            with_overhead, estimated = tokens_per_epoch(Path(tmp) / fixture / "hub", hub_id, rows)
            with mock.patch("ftspec.pipeline.untokenized.template_overhead", lambda _: None):
                without, _ = tokens_per_epoch(Path(tmp) / fixture / "hub-no-overhead", hub_id, rows)
            ratio = with_overhead / exact
            print(json.dumps({"family": fixture, "hub_id": hub_id, "measured_overhead": [per_sample, per_message],
                              "table_overhead": list(table[:2]), "exact_tokens": exact,
                              "estimated_tokens": with_overhead, "estimated_without_overhead": without,
                              "ratio": round(ratio, 2), "ratio_without_overhead": round(without / exact, 2)}))
            ok_table = (per_sample, per_message) == tuple(table[:2])
            ok_ratio = estimated and not exact_is_estimate and 0.75 <= ratio <= 1.25
            print(f"  {'PASS' if ok_table else 'FAIL'} the table's overhead is what the fixture measures")
            print(f"  {'PASS' if ok_ratio else 'FAIL'} estimate with overhead within +-25 % of exact ({ratio:.2f})")


if __name__ == "__main__":
    main()
