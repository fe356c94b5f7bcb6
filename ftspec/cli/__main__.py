"""``python -m ftspec.cli``: the `ftspec` command."""

from ftspec.cli import run

run()
