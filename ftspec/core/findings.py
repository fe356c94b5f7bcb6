"""A finding: one thing lint (or plan) has to say about a spec or its data, with where it is."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    path: str  # the file the finding is in: the spec, or a dataset
    line: int | None = None
    column: int | None = None
    source: str | None = None  # the guide the rule comes from
    hint: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        if not d["extra"]:
            d.pop("extra")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Finding":
        """The finding ``to_dict`` wrote (a run folder's lint.json)."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def sort_key(self) -> tuple:
        return (self.path, self.line or 0, self.column or 0, SEVERITY_ORDER[self.severity], self.code)
