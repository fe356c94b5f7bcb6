"""Holdout evaluation: metrics (stdlib only) and generation (imports torch lazily)."""

from ftspec.evaluate.metrics import apply_postprocess, evaluate_outputs, metric_name, score_sample

__all__ = ["apply_postprocess", "evaluate_outputs", "metric_name", "score_sample"]
