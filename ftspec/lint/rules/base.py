"""The rule interface: metadata plus ``check(ctx)`` yielding findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from ftspec.core.findings import Finding, Severity

if TYPE_CHECKING:
    from ftspec.lint.context import LintContext


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    docs: str  # What it does / Why it matters / Example / Source guide
    source: str
    check: Callable[["LintContext", "Rule"], Iterable[Finding]]
    # What each lint.profile changes about this rule (`ftspec rules --profile P` lists them); a rule whose
    # ``only`` names profiles is silent under every other profile.
    profiles: dict = field(default_factory=dict)
    only: tuple = ()

    def finding(self, ctx: "LintContext", message: str, *, at: tuple = (), path: str | None = None,
                line: int | None = None, severity: Severity | None = None, hint: str | None = None,
                key: bool = False, **extra) -> Finding:
        if path is None:
            loc = ctx.locate(*at, key=key)
            path, line, column = loc[0], loc[1], loc[2]
        else:
            column = None
        extra = {k: v for k, v in extra.items() if v is not None}
        return Finding(self.code, severity or self.severity, message, path, line, column,
                       self.source, hint, extra)


def doc(what: str, why: str, example: str, source: str) -> str:
    return f"What it does\n  {what}\n\nWhy it matters\n  {why}\n\nExample\n  {example}\n\nSource guide\n  {source}\n"
