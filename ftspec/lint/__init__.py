"""Lint: one streaming pass over a spec's datasets into statistics (``scan``), the rules that read them (``rules``,
one module each) and the engine that runs them (``engine.run_lint``); ``views`` renders findings, ``fix`` applies
their unambiguous fixes. No torch anywhere here: lint runs in pre-commit."""
