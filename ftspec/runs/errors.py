"""The one error apply and its stages raise: a sentence for the user and the exit code to leave with."""

from __future__ import annotations


class ApplyError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.message, self.code = message, code
