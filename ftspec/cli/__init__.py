"""The `ftspec` command line: one module per verb (``validate``, ``lint``, ``rules``, ``schema``, ``init``, ``plan``,
``apply``, ``report``, ``export``, ``runs``, ``compare``), each parsing its arguments, calling one library function
and rendering the result. Heavy modules are imported inside the verbs so `lint` and `runs` stay instant."""

from __future__ import annotations

import os
import sys

import click

from ftspec import __version__
from ftspec.cli.apply import apply
from ftspec.cli.common import EXIT_FINDINGS, EXIT_USAGE
from ftspec.cli.compare import compare
from ftspec.cli.export import export
from ftspec.cli.init import init
from ftspec.cli.lint import lint
from ftspec.cli.plan import plan
from ftspec.cli.report import report
from ftspec.cli.rules import rules
from ftspec.cli.runs import runs
from ftspec.cli.schema import schema
from ftspec.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftspec")
def cli() -> None:
    """ftspec: declarative fine-tuning specs — validate, lint, plan, apply."""


for _command in (validate, lint, rules, schema, init, plan, apply, report, export, runs, compare):
    cli.add_command(_command)


def _sigterm_as_interrupt() -> None:
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        pass


def run() -> None:
    """The `ftspec` command (console script and ``python -m ftspec.cli``): :func:`main`, then the process exits.
    Once torch is loaded (apply's evaluation) the interpreter's own teardown takes ~1.7 s and does nothing ftspec
    needs (every file is written and closed), so the process ends at once instead."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    if "torch" not in sys.modules:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    """Entry point: usage errors and internal failures exit 2 with one line, never a traceback."""
    _sigterm_as_interrupt()  # SIGTERM stops like Ctrl-C: one line, and apply resumes on the next run
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("interrupted; nothing half-written is kept, and `ftspec apply` resumes where it stopped", err=True)
        sys.exit(130)
    except OSError as exc:  # a full disk, a read-only folder, a vanished file: one line, not a traceback
        import errno

        what = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        click.echo(f"ftspec: {exc.filename + ': ' if exc.filename else ''}{what}", err=True)
        sys.exit(EXIT_FINDINGS)
    except Exception as exc:  # an internal error: say what, and where to report it
        click.echo(f"ftspec: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("set FTSPEC_DEBUG=1 for the traceback", err=True)
        if os.environ.get("FTSPEC_DEBUG"):
            raise
        sys.exit(EXIT_USAGE)

