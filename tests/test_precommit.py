"""The hook definition works through the real pre-commit tool.

The offline tests run the hooks exactly as `.pre-commit-hooks.yaml` defines them (entry, files, types,
verbose) from a `repo: local` config, with `language: system` so nothing is installed from the network.
The try-repo test additionally lets pre-commit install this checkout into its own environment, as a
user's `repo:` entry would (that one needs a package index).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import ROOT

BAD = """version: 1
name: hooked
data: {train: train.jsonl, validation: 0.2}
adapter: {type: lora, rank: 4, alpha: 16}
trainig: {epochs: 3}
"""
ROWS = "\n".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]})
                 for i in range(200)) + "\n"


def _pre_commit() -> list[str]:
    exe = Path(sys.executable).with_name("pre-commit")
    if not exe.exists():
        pytest.skip("pre-commit is not installed (it is in the test extra)")
    if shutil.which("git") is None:
        pytest.skip("git missing")
    return [str(exe)]


def _env(tmp_path) -> dict:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pc-home"), "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
            "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}


def _user_repo(tmp_path, env, spec_text: str) -> Path:
    repo = tmp_path / "user-repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    (repo / "ftspec.yaml").write_text(spec_text)
    (repo / "train.jsonl").write_text(ROWS)
    subprocess.run(["git", "add", "ftspec.yaml", "train.jsonl"], cwd=repo, check=True, env=env)
    return repo


def _local_config(repo: Path, args: list[str] | None = None) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "ftspec-lint")
    local = {**hook, "language": "system"}  # the console script of this environment, no install
    if args is not None:
        local["args"] = args
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]}))


def _run(repo, env, *extra):
    proc = subprocess.run([*_pre_commit(), "run", "ftspec-lint", *extra, "--files", "ftspec.yaml"], cwd=repo,
                          capture_output=True, text=True, env=env, timeout=300)
    return proc, proc.stdout + proc.stderr


def test_default_hook_blocks_on_a_warning(tmp_path):
    env = _env(tmp_path)
    repo = _user_repo(tmp_path, env, BAD.replace("trainig", "training"))
    _local_config(repo)
    proc, out = _run(repo, env)
    assert proc.returncode == 1, out
    assert "FT201" in out and "warning" in out  # rank 4 / alpha 16: a warning, and it blocks
    assert "Failed" in out


def test_args_relax_the_hook_and_it_still_prints(tmp_path):
    env = _env(tmp_path)
    repo = _user_repo(tmp_path, env, BAD.replace("trainig", "training"))
    _local_config(repo, ["--fail-on", "error"])
    proc, out = _run(repo, env)
    assert proc.returncode == 0, out
    assert "FT201" in out and "Passed" in out  # verbose: the warning is shown on a passing commit too


def test_relaxed_hook_still_blocks_errors(tmp_path):
    env = _env(tmp_path)
    repo = _user_repo(tmp_path, env, BAD)
    _local_config(repo, ["--fail-on", "error"])
    proc, out = _run(repo, env)
    assert proc.returncode == 1, out
    assert "ftspec.yaml:5:1" in out and "did you mean 'training'?" in out


def test_hook_installs_through_try_repo(tmp_path):
    env = _env(tmp_path)
    repo = _user_repo(tmp_path, env, BAD)
    # try-repo installs the hook from this checkout exactly as a user's `repo:` entry would.
    proc = subprocess.run([*_pre_commit(), "try-repo", str(ROOT), "ftspec-lint", "--files", "ftspec.yaml"],
                          cwd=repo, capture_output=True, text=True, env=env, timeout=600)
    out = proc.stdout + proc.stderr
    if proc.returncode == 3 and ("pip" in out or "index" in out.lower()):
        pytest.skip("pre-commit could not install the hook's environment (no package index reachable)")
    assert proc.returncode == 1, out
    assert "ftspec.yaml:5:1" in out and "did you mean 'training'?" in out
    (repo / "ftspec.yaml").write_text(BAD.replace("trainig", "training"))
    subprocess.run(["git", "add", "ftspec.yaml"], cwd=repo, check=True, env=env)
    proc = subprocess.run([*_pre_commit(), "try-repo", str(ROOT), "ftspec-lint", "--files", "ftspec.yaml"],
                          cwd=repo, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 1 and "FT201" in proc.stdout, proc.stdout + proc.stderr  # warnings block by default
