"""The cost model against the published measurements COMPUTE-REFERENCES does not use (tests/support/
published_measurements.py): per-row memory error, fit, and step-time ratio, as the markdown table in docs/estimation.md.

    .venv/bin/python bench/bench_published.py            # the table and the summary
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import published  # noqa: E402


def _row(set_name: str, s) -> str:
    r = s.row
    setup = (f"{r['model'].split('/')[-1]} {r['method']}"
             + (f" r{r['rank']}" if r["rank"] else "")
             + f", mbs {r['micro_batch']} x {r['seq_len'] or '?'}{' packed' if r['packed'] else ''}"
             + f", {r['gpus']}x {r['gpu']} {r['distributed']}, {r['loss']}, {r['attention']}")
    measured = "-" if s.measured_gib is None else f"{s.measured_gib:.1f}"
    error = "-" if s.error is None else f"{s.error:+.0%}"
    fit = "" if s.fits_measured is None else (
        ("ran" if s.fits_measured else "OOM") + (" ok" if s.fits_measured == s.fits_predicted else " **miss**"))
    time = "" if s.time_ratio is None else f"x{s.time_ratio:.2f}"
    return (f"| {set_name} | {r['label']} | {setup} | {measured} | {s.predicted_gib:.1f} | {error} | {fit} | {time} | "
            f"{s.reason or ''} |")


def main() -> None:
    print("| set | row | setup | measured GiB | predicted GiB | error | fit | time pred/meas | not scored because |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, scores in (("V", published.validation()), ("H", published.held_back())):
        for s in scores:
            print(_row(name, s))
    print()
    for name, scores in (("validation", published.validation()), ("held back", published.held_back())):
        errors = [s.error for s in scores if s.error is not None]
        times = [s.time_ratio for s in scores if s.time_ratio is not None]
        fits = [s for s in scores if s.fits_measured is not None and not (s.reason and "layout" in s.reason)
                and "below weights" not in (s.reason or "")]
        print(f"{name}: {len(errors)} memory rows scored, {sum(abs(e) <= 0.15 for e in errors)} within +-15% "
              f"({sum(abs(e) <= 0.15 for e in errors) / len(errors):.0%}), {sum(abs(e) <= 0.25 for e in errors)} within "
              f"+-25%, median |error| {sorted(abs(e) for e in errors)[len(errors) // 2]:.0%}; fit right on "
              f"{sum(s.fits_predicted == s.fits_measured for s in fits)} of {len(fits)}; step time within x1.5 on "
              f"{sum(1 / 1.5 <= t <= 1.5 for t in times)} of {len(times)}")


if __name__ == "__main__":
    main()
