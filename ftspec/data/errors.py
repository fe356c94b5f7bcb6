"""The data layer's error: a located problem that stops planning."""

from __future__ import annotations


class PipelineError(Exception):
    """A data problem that stops planning, located in the dataset file or at the spec key that names it.
    ``code``: the lint rule that reports the same problem (FT000 when none does)."""

    def __init__(self, message: str, spec_path: tuple, file: str | None = None, line: int | None = None,
                 code: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message, self.spec_path, self.file, self.line = message, spec_path, file, line
        self.code, self.hint = code, hint
