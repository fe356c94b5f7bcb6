"""The samples of the data files as index spaces: the pipeline's split, mix and drops are arithmetic on their indices,
and a sample's error, problems and place in its file are looked up here (``ftspec.pipeline.prepare``)."""

from __future__ import annotations

import bisect
from array import array

from ftspec.pipeline.facts import RENDER, FileFacts, raise_sample_error


class Space:
    """The samples of one or more data files as one index space (the train file, then each mix source)."""

    def __init__(self, parts: list[tuple[FileFacts, dict]]):
        self.parts = [f for f, _ in parts]
        self.offsets = []
        offset = 0
        for f in self.parts:
            self.offsets.append(offset)
            offset += f.n
        self.n = offset
        if len(parts) == 1:
            self.facts, self.live = parts[0]
            return
        merged = FileFacts("", offset)
        names = set.intersection(*(set(f.tokens) for f in self.parts)) if self.parts else set()
        for name in names:
            merged.tokens[name] = array("i")
        if all(f.upper is not None for f in self.parts):
            merged.upper, merged.estimate = array("i"), array("i")
        self.live = {}
        for base, (f, live) in zip(self.offsets, parts):
            merged.lines.extend(f.lines)
            merged.untrainable.extend(f.untrainable)
            for name in names:
                merged.tokens[name].extend(f.tokens[name])
            if merged.upper is not None:
                merged.upper.extend(f.upper)
                merged.estimate.extend(f.estimate)
            shift = len(merged.messages)
            merged.messages.extend(f.messages)
            for i, problems in f.problems.items():
                merged.problems[base + i] = [(code, m + shift) for code, m in problems]
            for i, error in f.errors.items():
                merged.errors[base + i] = error if error[1] != "live" else (error[0], "live", base + i)
            for i, exc in live.items():
                self.live[base + i] = exc
        self.facts = merged

    def locate(self, g: int) -> tuple[str, int]:
        part = bisect.bisect_right(self.offsets, g) - 1
        f = self.parts[part]
        return f.path, f.lines[g - self.offsets[part]]

    def raise_first_error(self, order: list[int], spec_path: tuple) -> None:
        """The error tokenizing ``order`` (sample indices) as one list would have raised: the template's first refusal,
        else the first other per-sample error."""
        errors = self.facts.errors
        if not errors:
            return
        first = None
        for pos, g in enumerate(order):
            e = errors.get(g)
            if e is not None and (first is None or e[0] < first[0][0]):
                first = (e, pos, g)
                if e[0] == RENDER:
                    break
        if first is not None:
            error, pos, g = first
            path, line = self.locate(g)
            raise_sample_error(error, pos, path, line, spec_path, self.live)

    def records(self, order: list[int], read) -> list[dict]:
        """The records of ``order``, read again through the same conversion the facts came from."""
        wanted: dict[int, dict | None] = dict.fromkeys(order)
        for part, (f, base) in enumerate(zip(self.parts, self.offsets)):
            if not any(base <= g < base + f.n for g in wanted):
                continue
            for i, (_, record, _) in enumerate(read(part)):
                if base + i in wanted:
                    wanted[base + i] = record
        return [wanted[g] for g in order]
