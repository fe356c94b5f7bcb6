"""Scoring a model's output against a reference: the eval metrics a spec declares. Pure functions with no torch, so
lint (training answers that fail the spec's own checks), evaluation and, later, rewards share one definition."""
