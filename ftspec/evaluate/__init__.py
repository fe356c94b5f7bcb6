"""Holdout evaluation: generating base and fine-tuned outputs (imports torch lazily) and scoring them with
``ftspec.scoring``."""
