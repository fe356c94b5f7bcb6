"""The hook definition works through the real pre-commit tool (it installs ftspec into its own env)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

BAD = """version: 1
name: hooked
data: {train: train.jsonl, validation: 0.2}
adapter: {type: lora, rank: 4, alpha: 16}
trainig: {epochs: 3}
"""


def _pre_commit() -> list[str]:
    exe = Path(sys.executable).with_name("pre-commit")
    if not exe.exists():
        pytest.skip("pre-commit is not installed (it is in the test extra)")
    return [str(exe)]


def test_hook_runs_through_pre_commit(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git missing")
    repo = tmp_path / "user-repo"
    repo.mkdir()
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pc-home"), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    spec = repo / "ftspec.yaml"
    spec.write_text(BAD)
    subprocess.run(["git", "add", "ftspec.yaml"], cwd=repo, check=True, env=env)
    # try-repo installs the hook from this checkout exactly as a user's `repo:` entry would.
    proc = subprocess.run([*_pre_commit(), "try-repo", str(ROOT), "ftspec-lint", "--files", "ftspec.yaml"],
                          cwd=repo, capture_output=True, text=True, env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "ftspec.yaml:5:1" in out and "did you mean 'training'?" in out

    # Fixed spec and its data: warnings only (rank/alpha), so the hook passes.
    spec.write_text(BAD.replace("trainig", "training"))
    rows = [json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]})
            for i in range(200)]
    (repo / "train.jsonl").write_text("\n".join(rows) + "\n")
    subprocess.run(["git", "add", "ftspec.yaml", "train.jsonl"], cwd=repo, check=True, env=env)
    proc = subprocess.run([*_pre_commit(), "try-repo", str(ROOT), "ftspec-lint", "--verbose", "--files", "ftspec.yaml"],
                          cwd=repo, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FT201" in proc.stdout  # the hook still shows warnings
