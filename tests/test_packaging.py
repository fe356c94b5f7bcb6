"""The light core stays light: training libraries are an extra, never a core dependency."""

import re
import tomllib

from conftest import ROOT

HEAVY = {"torch", "transformers", "peft", "trl", "accelerate", "datasets", "bitsandbytes"}


def _names(requirements):
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_core_dependencies_exclude_training_stack():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _names(project["dependencies"])
    assert not core & HEAVY, core & HEAVY
    assert {"pydantic", "jinja2", "jsonschema", "click"} <= core
    assert {"torch", "transformers", "peft", "trl", "accelerate"} <= _names(project["optional-dependencies"]["train"])
    assert project["scripts"]["ftspec"] == "ftspec.cli:main"


def test_pre_commit_hook_definition_points_at_lint():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "id: ftspec-lint" in text and "entry: ftspec lint" in text
