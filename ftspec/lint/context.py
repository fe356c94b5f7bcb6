"""What lint's rules read: per-dataset statistics from the one streaming pass, and the context that holds them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ftspec.lint.counting import TokenCounter
from ftspec.lint.record_checks import Tally
from ftspec.methods import get_method
from ftspec.spec.load import LoadedSpec


@dataclass
class DataStats:
    role: str  # train, validation, holdout, mix
    spec_value: str
    path: Path
    at: tuple  # where the path is in the spec
    exists: bool = True
    read_error: str | None = None
    fmt: str | None = None
    items: int = 0
    records: int = 0  # records without format errors
    problems: list = field(default_factory=list)  # (line, message, field), capped
    problem_count: int = 0
    labels: list = field(default_factory=list)  # lines with KTO labels
    reasoning: list = field(default_factory=list)
    tool_issues: list = field(default_factory=list)
    tokens: int = 0
    max_tokens: int = 0
    over_length: int = 0
    over_lines: list = field(default_factory=list)
    duplicates: int = 0
    dup_lines: list = field(default_factory=list)
    hashes: set = field(default_factory=set)
    leaks: int = 0
    leak_lines: list = field(default_factory=list)
    file_bytes: int | None = None
    over_platform: int = 0  # samples over the profile's per-example token limit
    render_errors: list = field(default_factory=list)  # (line, message) of records the chat template raised on, capped
    render_error_count: int = 0
    text_problems: dict = field(default_factory=dict)  # rule code -> samples with a training-text problem
    text_problem_lines: list = field(default_factory=list)  # (line, rule code, message), capped
    # Filled by record_checks.RecordChecks, read by the rules:
    tallies: dict = field(default_factory=dict)  # name -> Tally (count, first lines)
    scenario_key: str | None = None
    scenarios: Counter = field(default_factory=Counter)
    scenario_missing: int = 0
    system_prompts: Counter = field(default_factory=Counter)
    answers_checked: int = 0
    images: int = 0
    plain_records: int = 0  # chat records whose assistant turns have no reasoning
    plain_first: int | None = None
    columns: Counter = field(default_factory=Counter)  # canonical record key -> records that have it
    column_first_missing: dict = field(default_factory=dict)  # key -> first line of a record without it
    first_record_line: int | None = None

    def observe_columns(self, line: int, canon: dict) -> None:
        if self.first_record_line is None:
            self.first_record_line = line
        for key in canon:
            if key not in self.columns and line != self.first_record_line:
                self.column_first_missing.setdefault(key, self.first_record_line)
            self.columns[key] += 1
        if len(canon) < len(self.columns):
            for key in self.columns:
                if key not in canon:
                    self.column_first_missing.setdefault(key, line)

    @property
    def display(self) -> str:
        return str(self.path)

    def tally(self, name: str, line: int) -> None:
        t = self.tallies.get(name)
        if t is None:
            t = self.tallies[name] = Tally()
        t.add(line)

    def tallied(self, name: str) -> "Tally":
        return self.tallies.get(name) or Tally()


@dataclass
class LintContext:
    loaded: LoadedSpec
    counter: TokenCounter
    train: DataStats | None = None
    validation: DataStats | None = None
    holdout: DataStats | None = None
    mix: list = field(default_factory=list)

    @property
    def spec(self):
        return self.loaded.spec

    def locate(self, *path, key: bool = False) -> tuple:
        loc = self.loaded.locate(*path, key=key)
        return (loc.file, loc.line, loc.column)

    def datasets(self) -> list[DataStats]:
        return [d for d in (self.train, self.validation, self.holdout, *self.mix) if d is not None]

    def prepared(self):
        """The data pipeline's result (what the plan counts), when the model's tokenizer renders the data; else None.
        Computed once, on first use."""
        if not hasattr(self, "_prepared"):
            self._prepared = None
            if self.counter.exact and self.train is not None and not self.train.read_error and not self.train.problems:
                from ftspec.data.errors import PipelineError
                from ftspec.pipeline.prepare import prepare

                try:
                    self._prepared = prepare(self.loaded, self.counter.tok, records=False)
                except (PipelineError, ValueError, OSError):
                    self._prepared = None
        return self._prepared

    def effective_train_count(self) -> int:
        """Training samples after the validation split and over-length drops."""
        t = self.train
        if t is None:
            return 0
        n = t.records
        if self.spec.over_length == "drop" and not get_method(self.spec.method).plain_text:
            n -= t.over_length
        v = self.spec.data.validation
        if isinstance(v, float):
            n -= int(round(n * v))
        return max(n, 0)
