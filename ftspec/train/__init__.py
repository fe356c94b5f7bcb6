"""The training entry point that ``ftspec apply`` launches: ``accelerate launch ... -m ftspec.train RUN_DIR``.

One readable file per method (``sft.py``, ``dpo.py``, ``cpt.py``), each a short function that builds a TRL
trainer from ``RUN_DIR/plan.json``; ``common.py`` holds what they share (model and data loading, the
callbacks, writing ``train_result.json`` and the final weights). Exit codes are in ``__main__.py``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2  # bad arguments or an unreadable RUN_DIR/plan.json
EXIT_NAN = 3  # the loss became NaN or inf: training stopped
EXIT_STEP_MISMATCH = 4  # the run completed on another optimizer step count than the plan predicted
EXIT_OOM = 5  # out of device memory

__all__ = ["EXIT_OK", "EXIT_USAGE", "EXIT_NAN", "EXIT_STEP_MISMATCH", "EXIT_OOM"]
