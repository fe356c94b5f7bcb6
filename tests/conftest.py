import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from support import ROOT

# CI must be reproducible: property tests run a fixed, derandomized search by default.
# `HYPOTHESIS_PROFILE=explore pytest ...` runs a fresh random search to hunt for new cases.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Parallel workers (pytest-xdist, see pyproject.toml) share the cores: each trains with its share of the threads
# (torch here, and the trainers apply launches, which take OMP_NUM_THREADS) instead of all of them contending.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
if _workers > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _workers)))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    # The builtin model cache goes to a per-session temp folder, never the user's home.
    home = tmp_path_factory.getbasetemp() / "ftspec-home"
    monkeypatch.setenv("FTSPEC_HOME", str(home))
    # So does the count cache (ftspec.pipeline.cache): tests never read or write the user's own.
    monkeypatch.setenv("FTSPEC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "ftspec-cache"))


# Outside a test's own fixture (session fixtures), the count cache still stays out of the user's home.
os.environ.setdefault("FTSPEC_CACHE_DIR", os.path.join(tempfile.gettempdir(), "ftspec-test-cache"))


# Real-model fixtures (ftspec.models.fixtures) are cached across sessions in the checkout (.cache/, ignored by
# git): building one converts Qwen's 151,643 BPE ranks (~12 s) and writes tiny random weights.
os.environ.setdefault("FTSPEC_FIXTURE_CACHE", str(ROOT / ".cache" / "fixtures"))


def _fixture_model(name: str, family: str):
    """A session fixture named ``name``: the path of the built ``family`` fixture model."""

    @pytest.fixture(scope="session", name=name)
    def model_dir() -> Path:
        from ftspec.models.fixtures.build import cached

        return cached(family)

    return model_dir


qwen25_dir = _fixture_model("qwen25_dir", "qwen2.5-instruct")
qwen3_dir = _fixture_model("qwen3_dir", "qwen3")
llama32_dir = _fixture_model("llama32_dir", "llama3.2-instruct")
llama31_dir = _fixture_model("llama31_dir", "llama3.1-instruct")
deepseek_dir = _fixture_model("deepseek_dir", "deepseek-v3")
