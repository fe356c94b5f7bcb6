import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_lint_does_not_import_torch(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: t\ndata:\n  train: {ROOT}/examples/quickstart/train.jsonl\n  validation: 0.2\n"
                    f"eval:\n  holdout: {ROOT}/examples/quickstart/holdout.jsonl\n")
    code = (
        "import sys\nfrom ftspec.spec.load import load_spec\nfrom ftspec.lint.engine import run_lint\n"
        f"run_lint(load_spec({str(spec)!r}))\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\nassert not bad, bad\nprint('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "ok" in out.stdout


def test_plan_does_not_import_torch():
    """`ftspec plan` (lint, data pipeline, exact tokenization, cost model, launch templates) stays torch-free."""
    spec = ROOT / "examples" / "quickstart" / "ftspec.yaml"
    code = (
        "import sys\nfrom ftspec.plan.planning import plan_spec\nfrom ftspec.plan.views import to_json, to_text\n"
        f"plan = plan_spec({str(spec)!r}).plan\nto_text(plan); to_json(plan)\n"
        "bad = [m for m in ('torch', 'transformers', 'trl', 'peft', 'accelerate') if m in sys.modules]\n"
        "assert not bad, bad\nprint('ok', plan.optimizer_steps)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok ")
