"""`ftspec lint` end to end: formats, exit codes, select/disable, the quickstart and sample specs."""

import json

import pytest

from support import ROOT, SHARED_DATA, run_cli

SPEC = """version: 1
name: cli
data: {{train: train.jsonl, validation: 0.2}}
adapter: {{type: lora, rank: 4, alpha: 16}}
eval: {{holdout: holdout.jsonl}}
training: {{epochs: 3, batch_size: 1}}
"""


def make(tmp_path, n_train=60, broken_line=None):
    lines = []
    for i in range(n_train):
        lines.append(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                              {"role": "assistant", "content": f"a{i}"}]}))
    if broken_line:
        lines.insert(broken_line - 1, '{"messages": [')
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "holdout.jsonl").write_text(json.dumps({"messages": [{"role": "user", "content": "new"},
                                                                     {"role": "assistant", "content": "x"}]}) + "\n")
    spec = tmp_path / "ftspec.yaml"
    spec.write_text(SPEC.format())
    return spec


def test_json_findings_have_required_keys_and_exit_1_on_errors(tmp_path):
    spec = make(tmp_path, broken_line=7)
    proc = run_cli("lint", "--format", "json", spec)
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)
    assert all({"code", "severity", "message", "path", "line"} <= set(f) for f in findings)
    broken = [f for f in findings if f["code"] == "FT301"]
    assert broken and broken[0]["path"].endswith("train.jsonl") and broken[0]["line"] == 7
    rank = [f for f in findings if f["code"] == "FT201"]
    assert rank and rank[0]["line"] == 4 and rank[0]["path"].endswith("ftspec.yaml")


def test_warnings_only_exit_0_and_disable_select(tmp_path):
    spec = make(tmp_path)
    proc = run_cli("lint", "--format", "json", spec)
    assert proc.returncode == 0, proc.stdout
    codes = {f["code"] for f in json.loads(proc.stdout)}
    assert "FT201" in codes
    proc = run_cli("lint", "--format", "json", "--disable", "FT201", spec)
    assert "FT201" not in {f["code"] for f in json.loads(proc.stdout)}
    proc = run_cli("lint", "--format", "json", "--select", "FT2", spec)
    assert {f["code"] for f in json.loads(proc.stdout)} <= {"FT201", "FT202", "FT203", "FT204"}


def test_sarif_and_github_views(tmp_path):
    spec = make(tmp_path)
    sarif = json.loads(run_cli("lint", "--format", "sarif", spec).stdout)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
    gh = run_cli("lint", "--format", "github", spec).stdout.splitlines()
    assert gh and all(line.startswith(("::warning file=", "::error file=", "::notice file=")) for line in gh)
    assert any("line=4" in line and "title=FT201" in line for line in gh)


def test_inline_disable_comment(tmp_path):
    spec = make(tmp_path)
    spec.write_text(spec.read_text().replace("alpha: 16}", "alpha: 16}  # ftspec: disable=FT201"))
    codes = {f["code"] for f in json.loads(run_cli("lint", "--format", "json", spec).stdout)}
    assert "FT201" not in codes


def test_quickstart_passes_the_pre_commit_threshold():
    # The hook's threshold: no errors and no warnings (info notes, such as FT205, may remain).
    proc = run_cli("lint", "--format", "json", "--fail-on", "warning", ROOT / "examples" / "quickstart" / "ftspec.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(f["severity"] == "info" for f in json.loads(proc.stdout))


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="the sample specs train on ../shared/data, absent here")
def test_sample_specs_lint_without_errors():
    proc = run_cli("lint", "--format", "json", *sorted((ROOT / "specs").glob("*.yaml")))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    findings = json.loads(proc.stdout)
    # True findings on the real data: LLaMA-Factory's DPO demo has long pairs and repeated samples.
    dpo = {f["code"] for f in findings if "qwen05b-dpo" in f["path"]}
    assert {"FT302", "FT303"} <= dpo


def test_fail_on_sets_the_severity_that_fails(tmp_path):
    spec = make(tmp_path)  # warnings (FT201 among them), no errors
    assert run_cli("lint", spec).returncode == 0  # the command line's default: --fail-on error
    proc = run_cli("lint", "--fail-on", "warning", spec)
    assert proc.returncode == 1 and "FT201" in proc.stdout and "--fail-on error" in proc.stderr
    assert run_cli("lint", "--fail-on", "warning", "--select", "FT2", "--disable", "FT201", spec).returncode == 0
    (tmp_path / "b").mkdir()
    broken = make(tmp_path / "b", broken_line=3)
    assert run_cli("lint", "--fail-on", "error", broken).returncode == 1
    assert run_cli("lint", "--fail-on", "bogus", spec).returncode == 2


FIXABLE = """# a comment at the top
version: 1
name: fixme   # the job
data:
  train: train.jsonl   # 60 rows
  validation: 0.2
adapter: {type: lora, rank: 4, alpha: 16}  # too big
training:
  epochs: 20       # way too many
  learning_rate: 0.01
  batch_size: 1
eval: {holdout: holdout.jsonl, baseline: false}
"""


def test_fix_rewrites_only_the_fixed_values_and_relints(tmp_path):
    spec = make(tmp_path)
    spec.write_text(FIXABLE)
    proc = run_cli("lint", "--fix", spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in ("fixed FT201", "adapter.alpha 16 -> 2", "training.epochs 20 -> 5", "learning_rate 0.01 -> 0.0001",
                 "eval.baseline False -> True"):
        assert line in proc.stderr, proc.stderr
    after = spec.read_text()
    expected = (FIXABLE.replace("alpha: 16}  # too big", "alpha: 2}   # too big")
                .replace("epochs: 20       #", "epochs: 5        #").replace("0.01", "0.0001")
                .replace("baseline: false", "baseline: true"))
    assert after == expected  # comments, flow style and every other line as written
    assert not {"FT201", "FT202", "FT203", "FT403"} & set(proc.stdout.replace(":", " ").split())
    again = run_cli("lint", "--fix", spec)
    assert "fixed" not in again.stderr and spec.read_text() == expected


def test_fix_writes_into_the_extended_base_that_holds_the_key(tmp_path):
    make(tmp_path)
    (tmp_path / "base.yaml").write_text("version: 1\nname: base\ndata: {train: train.jsonl, validation: 0.2}\n"
                                        "adapter:\n  rank: 4\n  alpha: 16   # shared\n")
    spec = tmp_path / "ftspec.yaml"
    spec.write_text("extends: base.yaml\nname: child\neval: {holdout: holdout.jsonl}\n")
    proc = run_cli("lint", "--fix", "--select", "FT201", spec)
    assert proc.returncode == 0 and "base.yaml: adapter.alpha 16 -> 2" in proc.stderr, proc.stderr
    assert "alpha: 2    # shared" in (tmp_path / "base.yaml").read_text()
    assert spec.read_text() == "extends: base.yaml\nname: child\neval: {holdout: holdout.jsonl}\n"


def test_rules_profile_lists_what_it_changes():
    proc = run_cli("rules", "--profile", "openai")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for code in ("FT006", "FT601", "FT602", "FT603", "FT604"):
        assert code in out
    assert "FT605" not in out and "FT201" not in out  # Bailian's file size; FT201 is unchanged under openai
    bailian = json.loads(run_cli("rules", "--profile", "bailian", "--format", "json").stdout)
    by_code = {r["code"]: r for r in bailian}
    assert by_code["FT605"]["only_under_profiles"] == ["bailian"] and "300 MB" in by_code["FT605"]["change"]
    assert "1,000+" in by_code["FT102"]["change"]
