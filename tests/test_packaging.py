"""The light core stays light: training libraries are an extra, never a core dependency."""

import re
import tomllib

from support import ROOT

HEAVY = {"torch", "transformers", "peft", "trl", "accelerate", "datasets", "bitsandbytes"}


def _names(requirements):
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_core_dependencies_exclude_training_stack():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _names(project["dependencies"])
    assert not core & HEAVY, core & HEAVY
    assert {"pydantic", "jinja2", "jsonschema", "click"} <= core
    assert {"torch", "transformers", "peft", "trl", "accelerate"} <= _names(project["optional-dependencies"]["train"])
    assert project["scripts"]["ftspec"] == "ftspec.cli:run"


def test_pre_commit_hook_definition_points_at_lint():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "id: ftspec-lint" in text and "entry: ftspec lint" in text


def test_wheel_ships_the_templates(tmp_path):
    """A non-editable install (a wheel) renders templates too: they install under share/ftspec/templates."""
    import subprocess
    import sys
    import zipfile

    from support import ROOT

    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("ftspec-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    templates = {p.relative_to(ROOT / "templates").as_posix() for p in (ROOT / "templates").rglob("*.j2")}
    shipped = {n.split("share/ftspec/templates/", 1)[1] for n in names if "share/ftspec/templates/" in n}
    assert templates and templates <= shipped
    # builtin:tiny-chat is a model folder inside the package
    model = {f"ftspec/models/tiny_chat/{n}" for n in ("model.safetensors", "tokenizer.json", "tokenizer_config.json",
                                                       "config.json", "generation_config.json", "SHA256SUMS", "README.md")}
    assert model <= set(names), model - set(names)
