import re
import struct
import subprocess

import pytest

from ftspec.scoring.metrics import evaluate_outputs
from ftspec.report.contract import eval_section
from ftspec.report.html import loss_svg, render_report_html
from support import chromium as find_chromium

GUARD = [{"regex": r"\s*([-/])\s*", "replace": r"\1"}]
METRICS = ["exact_match", "format_alignment", {"regex": r"^\S+$", "name": "one_token"}]
XSS = "<script>alert(1)</script>"
SYSTEM = {"role": "system", "content": "你是建材家装助手。"}


def _samples(outputs):
    cases = [
        ("Is PE19/24 in stock?", "PE19/24", "trained"),
        ("“水吧台/岛台区域”需要刷几遍防水?", "水吧台/岛台区域", "trained"),
        ("Can Soudal-23-89/B be used outdoors?", "Soudal-23-89/B", "untrained"),
        ("订单里的型号是Tremco-755/3,请复述型号。", "型号:Tremco-755/3", "untrained"),
    ] * 15  # 60 samples: more than the report lists
    return [{"prompt": [SYSTEM, {"role": "user", "content": u}], "reference": ref, "scenario": sc,
             "output": outputs(i, ref)} for i, (u, ref, sc) in enumerate(cases)]


def _spaced(ref):
    return re.sub(r"([-/])", r" \1 ", ref)


@pytest.fixture
def report():
    base = _samples(lambda i, ref: _spaced(ref) if i % 2 else ref + " " + XSS)
    tuned = _samples(lambda i, ref: ref if i % 5 else _spaced(ref))
    return {
        "name": "symbol-format", "run_id": "20261123-162900-ab12", "spec_name": "symbol-format", "method": "sft",
        "created": "2026-11-23T16:29:00Z",
        "plan": {"optimizer_steps": 135, "train_tokens": 118_430, "peak_memory_gib_per_device": 0.41,
                 "wall_time_hours": 0.03, "cost_usd": None, "fits": True, "accelerator": "cpu"},
        "actual": {"optimizer_steps": 135, "train_runtime_s": 95.2, "tokens_per_second": 1244.0},
        "loss": {"train": [[s, 5.6 / (1 + s / 12)] for s in range(1, 136, 3)],
                 "validation": [[s, 5.4 / (1 + s / 20) + 0.3] for s in (45, 90, 135)]},
        "overfitting": False, "best_checkpoint": "checkpoints/checkpoint-135",
        "eval": eval_section({"base": evaluate_outputs(base, METRICS, GUARD),
                              "finetuned": evaluate_outputs(tuned, METRICS, GUARD)}),
        "versions": {"ftspec": "0.1.0", "torch": "2.13.0", "transformers": "5.23.0"},
        "fingerprint": {"spec_sha256": "9f2c" * 16, "data": {"train.jsonl": "e3b0c442"}},
    }


def test_report_is_self_contained_and_escaped(report):
    html = render_report_html(report)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"\b(src|href)\s*=", html), "no attribute may load anything"
    assert "url(" not in html and "@import" not in html and "@font-face" not in html
    assert "<script" not in html.lower() and "<img" not in html.lower() and "<link" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<polyline") == 2 and 'class="train"' in html and 'class="validation"' in html
    # Plan vs actual, metrics (raw and post-processed), scenarios and a capped sample list.
    assert re.search(r"Optimizer steps</th><td[^>]*>135</td><td[^>]*>135</td>", html)
    assert "fine-tuned + postprocess" in html and 'id="scenarios"' in html and "untrained" in html
    assert "Showing 50 of 60" in html
    assert html.count("format_alignment: pass") + html.count("format_alignment: fail") == 100
    # format_alignment: base 50% raw, 100% with the guard; fine-tuned 80% raw.
    assert re.search(r"<th>format_alignment</th><td[^>]*>50.0%</td><td[^>]*>100.0%</td><td[^>]*>80.0%</td>", html)


def test_user_text_is_escaped_everywhere(report):
    evil = '<img src="https://evil.example/x.png" onerror="alert(1)">'
    report["run_id"] = report["versions"]["torch"] = evil
    report["eval"]["details"]["finetuned"]["samples"][0]["prompt"][1]["content"] = evil
    report["eval"]["details"]["finetuned"]["samples"][0]["reference"] = evil
    html = render_report_html(report)
    assert "<img" not in html and "&lt;img src=" in html
    # run id, version, and the sample's prompt and reference in the samples and in the base/fine-tuned pairs
    assert html.count("&lt;img src=") == 6


def test_missing_values_render_as_dashes():
    for report in ({}, {"plan": None, "actual": None, "loss": None, "eval": None, "overfitting": None},
                   {"name": "x", "eval": eval_section({"base": None, "finetuned": evaluate_outputs([], ["exact_match"])}),
                    "loss": {"train": [[0, float("nan")], [1, 2.0]], "validation": []}}):
        html = render_report_html(report)
        assert "—" in html and "</html>" in html
    assert "No loss values were recorded" in render_report_html({})
    assert "No holdout evaluation was run" in render_report_html({})


def test_eval_section_maps_metric_names_to_numbers(report):
    ev = report["eval"]
    for side in ("base", "finetuned"):
        assert set(ev[side]) == {"exact_match", "format_alignment", "one_token"}
        assert all(isinstance(v, float) for v in ev[side].values())
        assert ev["details"][side]["n"] == 60 and len(ev["details"][side]["samples"]) == 60
        assert "metrics" not in ev["details"][side]
    assert ev["base"]["format_alignment"] == 0.5 and ev["finetuned"]["format_alignment"] == 0.8
    assert ev["details"]["base"]["metrics_postprocessed"]["format_alignment"] == 1.0
    assert eval_section(None) == {"base": None, "finetuned": None, "details": None, "holdout": None, "timing_s": None}


def test_loss_svg_scales_into_the_viewbox():
    svg = str(loss_svg([[0, 3.0], [10, 1.0]], [[10, 1.5]], width=200, height=100))
    coords = [float(v) for pair in re.findall(r'points="([^"]+)"', svg) for xy in pair.split() for v in xy.split(",")]
    assert coords and all(0 <= v <= 200 for v in coords)
    assert svg.count("<polyline") == 2 and "<circle" in svg


def test_report_renders_in_headless_chromium(report, tmp_path):
    chromium = find_chromium()
    page = tmp_path / "report.html"
    page.write_text(render_report_html(report), encoding="utf-8")
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]

    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<table id="metrics">' in dom.stdout and "format_alignment" in dom.stdout
    assert re.search(r'<polyline class="train" points="[\d., ]+">', dom.stdout)
    assert re.search(r'<polyline class="validation" points="[\d., ]+">', dom.stdout)
    assert "<script>alert" not in dom.stdout  # still text after a real parser read it

    shot = tmp_path / "report.png"
    subprocess.run([*common, "--hide-scrollbars", "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, text=True, timeout=60)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1600)
    # A blank page compresses to a few KB; tables, text and curves do not.
    assert len(data) > 30_000


def _story_report(report):
    """The fixture's report with a "general" scenario added to both sides."""
    general = [{"prompt": [SYSTEM, {"role": "user", "content": f"{i}加1等于几?"}], "reference": str(i + 1),
                "scenario": "general", "output": str(i + 1) if i % 4 else "?"} for i in range(8)]
    base = _samples(lambda i, ref: _spaced(ref) if i % 2 else ref + " " + XSS) + general
    tuned = _samples(lambda i, ref: ref if i % 5 else _spaced(ref)) + [dict(g, output=g["reference"]) for g in general]
    metrics = ["format_alignment", "exact_match"]
    report["eval"] = eval_section({"base": evaluate_outputs(base, metrics, GUARD),
                                   "finetuned": evaluate_outputs(tuned, metrics, GUARD)})
    return report


def test_story_comes_first_with_the_four_columns_and_general_ability(report):
    from ftspec.report.story import story

    told = story(_story_report(report))
    assert told["metric"] == "format_alignment" and told["guard"]
    assert [r["scenario"] for r in told["rows"]] == ["trained", "untrained"]  # general is reported apart
    trained = told["rows"][0]
    assert trained["n"] == 30 and trained["base"] == 0.5 and trained["base_guard"] == 1.0
    assert trained["tuned"] == 0.8 and trained["tuned_guard"] == 1.0
    assert told["general"] == {"metric": "exact_match", "n": 8, "base": 0.75, "tuned": 1.0}
    html = render_report_html(report)
    assert html.index('id="story"') < html.index('id="plan-vs-actual"') < html.index('id="samples"')
    assert "base + guard" in html and "fine-tuned + guard" in html
    assert re.search(r'id="general-ability">General ability \(exact_match on 8 general cases.*75\.0%.*100\.0%', html)


def test_pairs_highlight_what_changed_and_escape_it():
    from ftspec.report.html import diff_markup

    before, after = diff_markup("Sikalastic - 609 <b>", "Sikalastic-609 <b>")
    assert str(before) == 'Sikalastic<mark class="del"> </mark>-<mark class="del"> </mark>609 &lt;b&gt;'
    assert str(after) == "Sikalastic-609 &lt;b&gt;"


def test_pairs_table_lists_fixes_first(report):
    html = render_report_html(_story_report(report))
    table = html[html.index('id="pairs"'):html.index("</table>", html.index('id="pairs"'))]
    rows = table.split("<tr>")[2:]
    assert rows and 'class="badge fail">fail' in rows[0] and 'class="badge pass">pass' in rows[0]
    assert '<mark class="del"> </mark>' in table and "<script>" not in table


def test_console_summary_is_four_lines(report, tmp_path):
    from ftspec.report.story import console_lines

    lines = console_lines(_story_report(report), tmp_path)
    assert len(lines) == 4
    assert lines[0] == "trained: 135 optimizer steps (as planned), train loss 5.169 -> 0.463"
    assert lines[1] == "format_alignment trained   (n=30): base 0.50 (guard 1.00) -> fine-tuned 0.80 (guard 1.00)"
    assert lines[3].startswith("general ability (exact_match, n=8): base 0.75 -> fine-tuned 1.00; report ")
