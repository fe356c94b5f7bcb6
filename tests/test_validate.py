"""Schema validation: located errors, did-you-mean, unsafe YAML, the checked-in schema, init."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import ROOT, run_cli
from ftspec.spec.load import SpecErrors, load_spec
from ftspec.spec.source import SourceError, parse_yaml
from ftspec.spec.schema import json_schema

GOOD = """\
version: 1
name: demo
data:
  train: train.jsonl
"""


def write(tmp_path, text, name="spec.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def errors_of(path):
    with pytest.raises(SpecErrors) as info:
        load_spec(path)
    return info.value.errors


def test_minimal_spec_gets_defaults(tmp_path):
    loaded = load_spec(write(tmp_path, GOOD))
    assert loaded.spec.method == "sft"
    assert loaded.spec.adapter.type == "lora"
    assert loaded.spec.learning_rate == 1e-4
    assert loaded.resolve(loaded.spec.data.train) == tmp_path / "train.jsonl"


def test_misspelt_key_is_located_with_suggestion(tmp_path):
    p = write(tmp_path, GOOD + "trainig:\n  epochs: 3\n")
    (err,) = errors_of(p)
    assert (err.location.line, err.location.column) == (5, 1)
    assert "unknown key" in err.message and err.hint == "did you mean 'training'?"


def test_nested_wrong_value_points_at_value(tmp_path):
    p = write(tmp_path, GOOD + "adapter:\n  type: lora\n  rank: many\n")
    (err,) = errors_of(p)
    assert (err.location.line, err.location.column) == (7, 9)
    assert err.message.startswith("adapter.rank:")


def test_enum_error_lists_expected(tmp_path):
    (err,) = errors_of(write(tmp_path, GOOD + "method: rlhf\n"))
    assert "'sft', 'dpo', 'cpt' or 'grpo'" in err.message and err.location.line == 5


def test_missing_required_key(tmp_path):
    (err,) = errors_of(write(tmp_path, "version: 1\nname: x\ndata:\n  format: auto\n"))
    assert "data.train" in err.message and "missing" in err.message and err.location.line == 4


def test_strict_types_reject_quoted_numbers(tmp_path):
    (err,) = errors_of(write(tmp_path, GOOD + "training:\n  epochs: '3'\n"))
    assert "training.epochs" in err.message


def test_yaml12_floats_like_1e_minus_4(tmp_path):
    loaded = load_spec(write(tmp_path, GOOD + "training:\n  learning_rate: 1e-4\n"))
    assert loaded.spec.training.learning_rate == 1e-4


@pytest.mark.parametrize(
    "text, needle, line",
    [
        ("a: 1\nb: 2\na: 3\n", "duplicate key 'a'", 3),
        ("a: !!python/object/apply:os.system ['true']\n", "not allowed", 1),
        ("a: [1, 2\n", "invalid YAML", 2),
        ("<<: {a: 1}\n", "merge keys", 1),
    ],
)
def test_unsafe_or_broken_yaml_is_located(text, needle, line):
    with pytest.raises(SourceError) as info:
        parse_yaml(text, "x.yaml")
    assert needle in str(info.value) and info.value.location.line == line


def test_alias_bomb_is_refused_fast():
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        ref = f"*a{i-1}"
        lines.append(f"a{i}: &a{i} [{', '.join([ref] * 9)}]")
    import time

    start = time.perf_counter()
    with pytest.raises(SourceError, match="alias bomb"):
        parse_yaml("\n".join(lines), "bomb.yaml")
    assert time.perf_counter() - start < 2


def test_extends_merges_and_rebases_paths(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "train.jsonl").write_text("{}\n")
    write(tmp_path / "base", GOOD + "training:\n  epochs: 5\n  batch_size: 2\n", "base.yaml")
    child = write(tmp_path, "extends: base/base.yaml\nname: child\ntraining:\n  epochs: 2\n")
    loaded = load_spec(child)
    assert loaded.spec.name == "child"
    assert (loaded.spec.training.epochs, loaded.spec.training.batch_size) == (2, 2)
    assert loaded.resolve(loaded.spec.data.train).resolve() == (tmp_path / "base" / "train.jsonl").resolve()


def test_extends_cycle_is_an_error(tmp_path):
    write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    (err,) = errors_of(tmp_path / "a.yaml")
    assert "cycle" in err.message


def test_checked_in_schema_is_current():
    checked_in = json.loads((ROOT / "schemas" / "ftspec-v1.schema.json").read_text())
    assert checked_in == json_schema(), "run: ftspec schema > schemas/ftspec-v1.schema.json"


def test_example_specs_validate_against_json_schema_too():
    import jsonschema

    from ftspec.spec.source import load_yaml_file

    schema = json_schema()
    for path in [ROOT / "examples" / "quickstart" / "ftspec.yaml", *(ROOT / "specs").glob("*.yaml")]:
        raw, _ = load_yaml_file(path)
        jsonschema.validate(raw, schema)
        load_spec(path)
        assert path.read_text().startswith("# yaml-language-server: $schema="), path


@pytest.mark.parametrize("method", ["sft", "dpo", "cpt"])
@pytest.mark.parametrize("adapter", ["lora", "rslora", "full"])
def test_init_writes_valid_spec(tmp_path, method, adapter):
    out = tmp_path / "job.yaml"
    proc = run_cli("init", out, "--method", method, "--adapter", adapter)
    assert proc.returncode == 0, proc.stderr
    loaded = load_spec(out)
    assert (loaded.spec.method, loaded.spec.adapter.type) == (method, adapter)
    assert run_cli("init", out).returncode == 2  # refuses to overwrite


def test_validate_cli_exit_codes_and_json(tmp_path):
    good = write(tmp_path, GOOD, "good.yaml")
    bad = write(tmp_path, GOOD + "epochs: 3\n", "bad.yaml")
    assert run_cli("validate", good).returncode == 0
    proc = run_cli("validate", "--format", "json", bad)
    assert proc.returncode == 1
    (finding,) = json.loads(proc.stdout)
    assert finding["path"].endswith("bad.yaml") and finding["line"] == 5 and finding["severity"] == "error"
    assert run_cli("validate", "--format", "nope", good).returncode == 2


yaml_text = st.text(alphabet=st.sampled_from(list("abc:- \n\t[]{}&*!|>'\"#,?%@`0123456789.\\")), max_size=200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=yaml_text)
def test_malformed_yaml_never_tracebacks(tmp_path, body):
    p = tmp_path / "fuzz.yaml"
    p.write_text(body, encoding="utf-8")
    try:
        load_spec(p)
    except SpecErrors as exc:
        assert all(e.location is None or e.location.line >= 1 for e in exc.errors)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_random_bytes_never_traceback(tmp_path, data):
    p = tmp_path / "fuzz.yaml"
    p.write_bytes(data)
    try:
        load_spec(p)
    except SpecErrors:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                          lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                          max_leaves=10),
       section=st.sampled_from(["model", "adapter", "data", "training", "eval", "compute", "lint", "name"]))
def test_wrong_shaped_sections_give_located_errors(tmp_path, value, section):
    p = tmp_path / "shape.yaml"
    p.write_text(GOOD + f"{section}: {json.dumps(value)}\n", encoding="utf-8")
    try:
        load_spec(p)
    except SpecErrors as exc:
        assert all(e.location is not None for e in exc.errors)


def test_rules_docs_page_is_current():
    from ftspec.lint.rules.docs import rules_docs_page
    from ftspec.lint.rules import all_rules

    page = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert page == rules_docs_page(all_rules()), "run: ftspec rules --format docs > docs/rules.md"


def test_rules_cli_lists_and_explains():
    proc = run_cli("rules", "--format", "json")
    codes = [r["code"] for r in json.loads(proc.stdout)]
    assert "FT201" in codes and codes == sorted(codes)
    explained = run_cli("rules", "ft201")
    assert explained.returncode == 0 and "Why it matters" in explained.stdout and "Source guide" in explained.stdout
    assert run_cli("rules", "FT999").returncode == 2
