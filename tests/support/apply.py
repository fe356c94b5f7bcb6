"""The small apply project most end-to-end tests train (builtin:tiny, 48 rows, a holdout), and its run folders."""

from __future__ import annotations

from pathlib import Path

from support import run_cli
from support.project import write_project

NAME = "apply-test"
CODES = ["K11-Pro", "PE19/24", "JS-II", "Sika-609", "A/B-3", "X-7/8"]


def code_rows(n: int, offset: int = 0) -> list[dict]:
    out = []
    for i in range(offset, offset + n):
        code = CODES[i % len(CODES)] + str(i)
        out.append({"messages": [{"role": "user", "content": f"repeat {code}"}, {"role": "assistant", "content": code}]})
    return out


def make_project(folder: Path, *, extra: str = "", n: int = 48, epochs: float = 3) -> Path:
    return write_project(folder, f"""version: 1
name: {NAME}
adapter: {{type: lora, rank: 4, alpha: 2}}
data: {{train: train.jsonl, validation: 0.25, max_length: 64}}
training: {{epochs: {epochs}, batch_size: 4, learning_rate: 1.0e-3, logging_steps: 1}}
eval: {{holdout: holdout.jsonl, metrics: [exact_match, format_alignment], max_new_tokens: 8}}
lint: {{disable: [FT101, FT102, FT105, FT202, FT203]}}
{extra}""", {"train.jsonl": code_rows(n), "holdout.jsonl": code_rows(8, offset=1000)}, spec_name="ftspec.yaml")


def apply(spec: Path, *args: str, env: dict | None = None):
    return run_cli("apply", spec, *args, env=env, timeout=600)


def run_dirs(spec: Path, name: str = NAME) -> list[Path]:
    return sorted(p for p in (spec.parent / "runs" / name).glob("*") if p.is_dir())
