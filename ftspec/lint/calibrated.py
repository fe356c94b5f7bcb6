"""Lint's token counts with the model's tokenizer, fast enough for a pre-commit hook.

Rendering every conversation through the chat template (Jinja) costs ~100 us a sample; lint must stay well under
a second on 10,000. What lint decides from a count is whether a sample is over ``max_length`` (or the platform's
limit), so the template is rendered exactly where that can change:

- Samples are grouped by their shape (roles in order, tools, reasoning, tool calls). The first few of each
  shape are rendered exactly; what the template adds to their contents' tokens is the shape's measured overhead.
- Every other sample is counted as its contents' tokens (one fast Rust batch) plus that overhead. One whose
  count lies within a margin of a limit (a few tokens per message, widened by how much the overhead varied) is
  rendered exactly after all. A shape whose overhead varies widely (a template that drops earlier reasoning,
  say) is always rendered exactly.

So the over-length verdict of every sample is the exact one unless a template adds tokens that vary by more
than the margin between samples of one shape; lengths far from every limit are counted to within that margin.
The pipeline (``plan``) always renders every sample.
"""

from __future__ import annotations

from typing import Callable

from ftspec.tokenizer.chat import RenderError

CALIBRATION = 3  # samples of a shape rendered exactly before its overhead is trusted
UNSTABLE_SPREAD = 16  # tokens: a shape whose overhead varies more is always rendered


class CalibratedCounter:
    """Counts chat samples as described above; ``exact(records)`` passed to ``count`` is the pipeline's own count
    (it renders), which counts a sample over ``bound`` from a bounded prefix: such a count calibrates nothing."""

    def __init__(self, tokenizer, limits: list[int], bound: int):
        self._tokenizer, self._limits, self._bound = tokenizer, sorted(set(limits)), bound
        self._overheads: dict[tuple, list[int]] = {}
        self.rendered = 0
        self.counted = 0

    def _content_tokens(self, groups: list[list[list[str]]]) -> list[int]:
        flat = [text for g in groups for part in g for text in part]
        lengths = iter(self._tokenizer.count_tokens(flat) if flat else ())
        out = []
        for g in groups:
            sizes = [sum(next(lengths) for _ in part) for part in g]
            out.append(sizes[0] + max(sizes[1:]) if len(sizes) > 1 else sizes[0])
        return out

    def _near_a_limit(self, estimate: int, margin: int) -> bool:
        return any(abs(estimate - limit) <= margin for limit in self._limits)

    def count(self, records: list[dict], method, exact: Callable[[list[dict]], list[int]]) -> list[int]:
        keys, groups = zip(*(method.count_parts(r) for r in records)) if records else ((), ())
        content = self._content_tokens(list(groups))
        result: list[int | None] = [None] * len(records)
        exact_now: list[int] = []
        pending: dict[tuple, int] = {}
        for i, key in enumerate(keys):  # shapes not yet calibrated: these samples calibrate them
            seen = len(self._overheads.get(key, ())) + pending.get(key, 0)
            if seen < CALIBRATION:
                pending[key] = pending.get(key, 0) + 1
                exact_now.append(i)
        self._render(exact, records, exact_now, keys, content, result, calibrate=True)
        rest: list[int] = []
        for i, key in enumerate(keys):
            if result[i] is not None:
                continue
            measured = self._overheads.get(key)
            if not measured:  # its calibration samples were all over the bound
                rest.append(i)
                continue
            spread = max(measured) - min(measured)
            estimate = content[i] + max(measured)
            messages = sum(len(part) for part in groups[i])
            if spread > UNSTABLE_SPREAD or self._near_a_limit(estimate, 8 + 2 * messages + spread):
                rest.append(i)
            else:
                result[i] = estimate
                self.counted += 1
        self._render(exact, records, rest, keys, content, result, calibrate=False)
        return [int(n) for n in result]

    def _render(self, exact, records, indices, keys, content, result, *, calibrate: bool) -> None:
        if not indices:
            return
        try:
            lengths = exact([records[i] for i in indices])
        except RenderError as exc:  # located in the caller's batch
            raise exc.at(indices[exc.index]) from None
        for i, n in zip(indices, lengths):
            result[i] = n
            if calibrate and n <= self._bound:
                self._overheads.setdefault(keys[i], []).append(n - content[i])
        self.rendered += len(indices)
