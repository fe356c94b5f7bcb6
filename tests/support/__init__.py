"""What the tests share: where things are, the CLI as a subprocess, and one builder for spec projects, run folders
and the real-model specs (``project``, ``runs``, ``real_models``). Imported as ``support`` (pytest's pythonpath)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data" / "llamafactory"


def run_cli(*args, cwd=None, env: dict | None = None, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run the real console entry point (``python -m ftspec.cli``) in a subprocess; ``env`` adds to os.environ."""
    return subprocess.run([sys.executable, "-m", "ftspec.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=timeout)


def chromium() -> str:
    """Headless Chromium's path; the test fails where CI requires it (FTSPEC_REQUIRE_CHROMIUM=1), else skips."""
    import shutil

    import pytest

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("FTSPEC_REQUIRE_CHROMIUM") == "1":
            pytest.fail("FTSPEC_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install -y chromium)")
        pytest.skip("chromium not on PATH; install it (apt-get install -y chromium) to render the report for real")
    return path


def free_port() -> int:
    """A TCP port nothing listens on now (for a test's own daemons and process groups)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
