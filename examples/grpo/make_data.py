"""Writes prompts.jsonl: the quickstart's training questions as GRPO prompts, each with its reference answer in an
`answer` column (what the format_alignment reward compares with). Run from this folder: python make_data.py"""

import json
from pathlib import Path

here = Path(__file__).parent
with (here / "prompts.jsonl").open("w", encoding="utf-8") as out:
    for line in (here.parent / "quickstart" / "train.jsonl").read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        out.write(json.dumps({"prompt": messages[:-1], "answer": messages[-1]["content"]}, ensure_ascii=False) + "\n")
