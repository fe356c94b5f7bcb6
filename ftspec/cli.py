"""The `ftspec` command line. Heavy modules are imported inside commands so `lint` stays instant."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from ftspec import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
REPO_ROOT = Path(__file__).resolve().parent.parent
FORMATS = ["text", "json", "sarif", "github"]


def _findings_from_errors(exc) -> list:
    from ftspec.core.findings import Finding

    out = []
    for err in exc.errors:
        loc = err.location
        out.append(Finding(code="FT000", severity="error", message=err.message, path=loc.file if loc else "?",
                           line=loc.line if loc else None, column=loc.column if loc else None, hint=err.hint))
    return out


def _load_specs(specs: tuple[str, ...]) -> tuple[list, list]:
    """Load each spec; those that fail become FT000 findings instead."""
    from ftspec.core.findings import Finding
    from ftspec.spec.load import SpecErrors, load_spec

    loaded, findings = [], []
    for spec in specs:
        try:
            present = Path(spec).exists()
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte
            findings.append(Finding("FT000", "error", f"cannot use this path: {getattr(exc, 'strerror', None) or exc}",
                                    spec.replace("\x00", "\\0")))
            continue
        if not present:
            findings.append(Finding("FT000", "error", "spec file not found", spec))
            continue
        try:
            loaded.append(load_spec(spec))
        except SpecErrors as exc:
            findings.extend(_findings_from_errors(exc))
    return loaded, findings


def _emit(findings: list, fmt: str) -> None:
    from ftspec.lint import views as output

    findings = sorted(findings, key=lambda f: f.sort_key())
    if fmt == "json":
        click.echo(output.render_json(findings))
    elif fmt == "sarif":
        from ftspec.lint.rules import all_rules

        click.echo(output.render_sarif(findings, all_rules()))
    elif fmt == "github":
        text = output.render_github(findings)
        if text:
            click.echo(text)
    else:
        text = output.render_text(findings, colour=sys.stdout.isatty())
        if text:
            click.echo(text)


def _exit_code(findings: list, fail_on: str = "error") -> int:
    """1 when any finding is at least as severe as ``fail_on`` (error < warning < info), else 0."""
    from ftspec.core.findings import SEVERITY_ORDER

    limit = SEVERITY_ORDER[fail_on]
    return EXIT_FINDINGS if any(SEVERITY_ORDER[f.severity] <= limit for f in findings) else EXIT_OK


def _split_codes(values: tuple[str, ...]) -> list[str]:
    return [c.strip().upper() for v in values for c in v.split(",") if c.strip()]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftspec")
def cli() -> None:
    """ftspec: declarative fine-tuning specs — validate, lint, plan, apply."""


@cli.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def validate(specs: tuple[str, ...], fmt: str) -> None:
    """Check SPECS against the schema (no data is read)."""
    _, findings = _load_specs(specs)
    _emit(findings, fmt)
    if fmt == "text" and not findings:
        click.echo(f"{len(specs)} spec(s) valid")
    sys.exit(_exit_code(findings))


@cli.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--select", multiple=True, help="Only these rule codes (comma-separated, prefixes allowed).")
@click.option("--disable", multiple=True, help="Switch these rule codes off for this run.")
@click.option("--fail-on", "fail_on", type=click.Choice(["error", "warning", "info"]), default="error",
              show_default=True, help="Exit 1 when a finding of this severity or a worse one is found.")
@click.option("--fix", is_flag=True, help="Apply the findings' unambiguous fixes to the spec (comments and layout "
              "kept), then lint again.")
def lint(specs: tuple[str, ...], fmt: str, select: tuple[str, ...], disable: tuple[str, ...], fail_on: str,
         fix: bool) -> None:
    """Validate SPECS, then check them and their datasets against the guides' rules."""
    from ftspec.lint.engine import run_lint

    def lint_all():
        loaded_specs, found = _load_specs(specs)
        for loaded in loaded_specs:
            found.extend(run_lint(loaded, select=_split_codes(select) or None, disable=_split_codes(disable)))
        return loaded_specs, found

    loaded_specs, findings = lint_all()
    if fix:
        from ftspec.lint.fix import apply_fixes

        changed = []
        for loaded in loaded_specs:
            mine = [f for f in findings if f.code != "FT000" and f.extra.get("fix")
                    and f.path in {str(loaded.path)} | {loc.file for loc in loaded.source.values.values()}]
            changed += apply_fixes(loaded, mine)
        for c in changed:
            click.echo(f"fixed {c.code}: {c.file}: {c.key} {c.old!r} -> {c.new!r}", err=True)
        if changed:
            loaded_specs, findings = lint_all()  # what is left after the fixes
    _emit(findings, fmt)
    if fmt == "text" and not findings:
        click.echo(f"{len(specs)} spec(s): no findings")
    code = _exit_code(findings, fail_on)
    if code and fmt == "text" and fail_on != "error" and not any(f.severity == "error" for f in findings):
        click.echo(f"failing on --fail-on {fail_on}: relax with --fail-on error", err=True)
    sys.exit(code)


@cli.command()
@click.argument("code", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "docs"]), default="text",
              show_default=True)
@click.option("--profile", type=click.Choice(["ark", "bailian", "openai", "peft"]),
              help="List only what this lint.profile changes: its own rules and the thresholds it sets.")
def rules(code: str | None, fmt: str, profile: str | None) -> None:
    """List the lint rules, or explain one (ftspec rules FT201)."""
    from ftspec.lint.rules import all_rules, get_rule

    if code:
        try:
            rule = get_rule(code.upper())
        except KeyError:
            raise click.UsageError(f"unknown rule {code!r}; `ftspec rules` lists them") from None
        click.echo(rule_doc(rule))
        return
    listed = all_rules()
    if profile:
        changed = [r for r in listed if profile in r.profiles or profile in r.only]
        if fmt == "json":
            click.echo(json.dumps([{"code": r.code, "name": r.name, "severity": r.severity,
                                    "only_under_profiles": list(r.only), "change": r.profiles.get(profile)}
                                   for r in changed], indent=2))
            return
        click.echo(f"lint.profile {profile} changes {len(changed)} rule(s):")
        for r in changed:
            scope = "only under " + ", ".join(r.only) if r.only else "all profiles"
            click.echo(f"{r.code}  {r.severity:<7}  {r.name:<28} {r.profiles.get(profile, r.summary)} ({scope})")
        return
    if fmt == "json":
        click.echo(json.dumps([{"code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary}
                               for r in listed], indent=2))
    elif fmt == "markdown":
        click.echo(rules_markdown(listed))
    elif fmt == "docs":
        click.echo(rules_docs_page(listed), nl=False)
    else:
        for r in listed:
            click.echo(f"{r.code}  {r.severity:<7}  {r.name:<28} {r.summary}")


def _profile_lines(rule) -> list[str]:
    lines = []
    if rule.only:
        lines.append(f"Applies only under lint.profile {', '.join(rule.only)}.")
    lines += [f"- profile {p}: {what}" for p, what in rule.profiles.items()]
    return lines


def rule_doc(rule) -> str:
    profiles = _profile_lines(rule)
    tail = ("\n\nProfiles\n  " + "\n  ".join(profiles)) if profiles else ""
    return f"{rule.code} {rule.name} ({rule.severity})\n{rule.summary}\n\n{rule.docs.strip()}{tail}"


def rules_markdown(listed) -> str:
    lines = ["| code | name | severity | what it checks |", "|---|---|---|---|"]
    lines += [f"| {r.code} | {r.name} | {r.severity} | {r.summary} |" for r in listed]
    return "\n".join(lines)


def rules_docs_page(listed) -> str:
    """docs/rules.md: the table, then each rule's full docs (a test keeps the file current)."""
    parts = ["# ftspec lint rules", "", "Generated by `ftspec rules --format docs`; do not edit by hand.", "",
             rules_markdown(listed), ""]
    for r in listed:
        parts += [f"## {r.code} {r.name}", "", f"Default severity: **{r.severity}**. {r.summary}", "",
                  r.docs.strip(), ""]
        profiles = _profile_lines(r)
        if profiles:
            parts += ["Profiles", "", *profiles, ""]
    return "\n".join(parts)


@cli.command()
def schema() -> None:
    """Print the spec's JSON Schema (generated from the pydantic models)."""
    from ftspec.spec.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False), default="ftspec.yaml")
@click.option("--method", type=click.Choice(["sft", "dpo", "cpt"]), default="sft", show_default=True)
@click.option("--adapter", type=click.Choice(["lora", "rslora", "qlora", "full"]), default="lora", show_default=True)
@click.option("--base", default="builtin:tiny", show_default=True, help="Base model: hub id, folder, builtin:tiny-chat, builtin:tiny.")
@click.option("--name", default=None, help="Job name (default: the file's stem).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, method: str, adapter: str, base: str, name: str | None, force: bool) -> None:
    """Write a commented starter spec with the guides' recommended values."""
    from ftspec.spec.schema import DEFAULT_LEARNING_RATE, SCHEMA_URL
    from ftspec.core.templating import render

    target = Path(path)
    if target.exists() and not force:
        raise click.ClickException(f"{path} exists; pass --force to overwrite")
    accelerator = "cpu" if base.startswith("builtin:") else "h100"
    if adapter == "qlora" and accelerator == "cpu":
        raise click.UsageError("qlora needs a GPU; choose another adapter for the builtin tiny model")
    rank, alpha = (64, 6) if adapter == "rslora" else (32, 4)  # Ark: sqrt(rank) >= alpha
    text = render(
        "init.yaml.j2",
        schema_ref=SCHEMA_URL,
        filename=target.name,
        name=name or target.stem.replace("_", "-"),
        method=method,
        adapter=adapter,
        base=base,
        rank=rank,
        alpha=alpha,
        learning_rate=DEFAULT_LEARNING_RATE[adapter],
        epochs=3,
        train="data/train.txt" if method == "cpt" else "data/train.jsonl",
        accelerator=accelerator,
    )
    from ftspec.core.atomic import write_text_atomic

    write_text_atomic(target, text)
    click.echo(f"wrote {path}")


def _plan_error_finding(loaded, exc):
    from ftspec.core.findings import Finding

    code = getattr(exc, "code", None) or "FT000"
    hint = getattr(exc, "hint", None)
    if exc.file:
        return Finding(code, "error", exc.message, exc.file, exc.line, None, hint=hint)
    loc = loaded.locate(*exc.spec_path) if exc.spec_path else None
    return Finding(code, "error", exc.message, loc.file if loc else str(loaded.path),
                   loc.line if loc else None, loc.column if loc else None, hint=hint)


def _does_not_fit(loaded, plan):
    from ftspec.core.findings import Finding

    loc = loaded.locate("compute", "accelerator")
    fitting = [r for r in plan.remedies if r["fits"]]
    hint = ("would fit: " + "; ".join(f"{r['action']} ({r['memory_gib']:.1f} GiB)" for r in fitting)) if fitting \
        else "no single change fits; combine the remedies above or use a larger GPU"
    limit = plan.estimate["fit"]["limit_gib"] if plan.estimate else None
    return Finding("FT501", "error", f"does not fit: {plan.peak_memory_gib_per_device:.1f} GiB per device predicted, "
                   f"{limit} GiB usable on {plan.layout['accelerator']}", loc.file, loc.line, loc.column, hint=hint)


def _no_plan(findings: list, fmt: str, message: str) -> None:
    """Stop without a plan: the findings in the asked-for view (JSON stays JSON on every exit code), exit 1."""
    if fmt == "json":
        click.echo(json.dumps({"plan": None, "error": message,
                               "findings": [f.to_dict() for f in sorted(findings, key=lambda f: f.sort_key())]},
                              indent=2, ensure_ascii=False))
    else:
        _emit(findings, "text")
    click.echo(message, err=True)
    sys.exit(EXIT_FINDINGS)


def compile_plan(spec_path: str, fmt: str = "text"):
    """Load, lint and plan one spec; on any error print the located findings and exit 1."""
    from ftspec.lint.engine import run_lint
    from ftspec.plan.compile import PlanError, build_plan

    loaded_specs, findings = _load_specs((spec_path,))
    if not loaded_specs:
        _no_plan(findings, fmt, f"no plan: {spec_path} does not load")
    loaded = loaded_specs[0]
    # The plan tokenizes every sample exactly; lint's own token pass would only repeat that work.
    findings = run_lint(loaded, count_tokens=False)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        _no_plan(findings, fmt, f"no plan: {len(errors)} lint error(s) in {spec_path}")
    try:
        plan = build_plan(loaded)
    except PlanError as exc:
        _no_plan([_plan_error_finding(loaded, exc)], fmt, f"no plan for {spec_path}")
    return loaded, plan, findings


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), help="Save the plan (JSON) for `ftspec apply`.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--emit", "emit", type=click.Path(file_okay=False),
              help="Also write a launchable run folder here: plan.json, data/, accelerate config, launch.sh, "
                   "job.sbatch (Slurm) and sky.yaml (SkyPilot), for running the job outside `ftspec apply`.")
def plan(spec: str, out: str | None, fmt: str, emit: str | None) -> None:
    """Compile SPEC into a launch plan and preview steps, tokens, memory, time and cost."""
    from ftspec.plan.views import to_json, to_text

    loaded, compiled, findings = compile_plan(spec, fmt)
    warnings = [f for f in findings if f.severity != "error"]
    if fmt == "json":
        click.echo(to_json(compiled), nl=False)
    else:
        if warnings:
            n_warn = sum(f.severity == "warning" for f in warnings)
            click.echo(f"{n_warn} lint warning(s), {len(warnings) - n_warn} info; `ftspec lint {spec}` shows them",
                       err=True)
        click.echo(to_text(compiled), nl=False)
    if compiled.fits is False:
        from ftspec.lint.views import render_text

        # stdout stays pure JSON for tools; the finding goes to stderr there.
        click.echo(render_text([_does_not_fit(loaded, compiled)], colour=False), err=fmt == "json")
        sys.exit(EXIT_FINDINGS)
    if out:
        from ftspec.core.atomic import write_text_atomic
        from ftspec.plan.views import to_saved_json

        # Resolved: the saved plan applies from any folder.
        spec_file = str(Path(compiled.spec_file).resolve())
        saved = compiled.model_copy(update={"spec_file": spec_file,
                                            "fingerprint": {**compiled.fingerprint, "spec_file": spec_file}})
        write_text_atomic(Path(out), to_saved_json(saved))
        click.echo(f"saved plan to {out}; run `ftspec apply {out}`", err=True)
    if emit:
        from ftspec.apply import emit_run_folder

        folder = emit_run_folder(loaded, compiled, Path(emit))
        click.echo(f"wrote a launchable run folder to {folder}: bash {folder / 'launch.sh'}, "
                   f"sbatch {folder / 'job.sbatch'} or sky launch {folder / 'sky.yaml'}", err=True)


def _load_saved_plan(path: str):
    """A plan saved with `plan -o`, checked against its inputs as they are now."""
    from ftspec.models.resolve import resolve_model
    from ftspec.plan import fingerprint
    from ftspec.plan.compile import Plan

    from ftspec.plan.views import from_saved_json

    try:
        plan_obj = from_saved_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        click.echo(f"ftspec: {path}: not a usable saved plan: {str(exc).splitlines()[0]}; run `ftspec plan SPEC -o "
                   f"{path}` again", err=True)
        sys.exit(EXIT_FINDINGS)
    if not Path(plan_obj.spec_file).is_file():
        click.echo(f"{path}: the plan's spec {plan_obj.spec_file} is gone; run `ftspec plan` again", err=True)
        sys.exit(EXIT_FINDINGS)
    loaded_specs, findings = _load_specs((plan_obj.spec_file,))
    if not loaded_specs:
        _emit(findings, "text")
        click.echo(f"{path}: the saved plan is stale: its spec no longer loads; fix it and run `ftspec plan` again",
                   err=True)
        sys.exit(EXIT_FINDINGS)
    loaded = loaded_specs[0]
    ref = resolve_model(loaded.spec.model.base, loaded.spec.model.revision, spec_dir=loaded.dir)
    changed = fingerprint.differences(plan_obj.fingerprint, fingerprint.compute(loaded, ref))
    if changed:
        click.echo(f"{path}: the saved plan is stale; its inputs changed since it was made:", err=True)
        for line in changed:
            click.echo(f"  - {line}", err=True)
        click.echo(f"run `ftspec plan {plan_obj.spec_file} -o {path}` again and review it", err=True)
        sys.exit(EXIT_FINDINGS)
    return loaded, plan_obj


def _is_saved_plan(target: str) -> bool:
    """A saved plan is told from a spec by its content (a JSON spec is a spec), not by its name."""
    if not target.endswith(".json"):
        return False
    from ftspec.plan.views import looks_like_saved_plan
    from ftspec.spec.source import MAX_BYTES

    try:
        with Path(target).open("rb") as fh:
            return looks_like_saved_plan(json.loads(fh.read(MAX_BYTES * 50)))
    except (OSError, ValueError):
        return True  # not a spec either: the saved-plan reader says what is wrong with it


@cli.command()
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Train again even if a finished run exists for these inputs.")
def apply(target: str, force: bool) -> None:
    """Run a SPEC, or a PLAN saved by `ftspec plan -o`, then evaluate and report."""
    from ftspec.apply import ApplyError, apply_plan
    from ftspec.runs import RunLocked
    from ftspec.plan.views import to_text

    if _is_saved_plan(target):
        from ftspec.lint.engine import run_lint

        loaded, plan_obj = _load_saved_plan(target)
        findings = run_lint(loaded, count_tokens=False)
    else:
        loaded, plan_obj, findings = compile_plan(target)
        click.echo(to_text(plan_obj), nl=False, err=True)
    if plan_obj.fits is False:
        _emit([_does_not_fit(loaded, plan_obj)], "text")
        sys.exit(EXIT_FINDINGS)
    try:
        run_dir = apply_plan(loaded, plan_obj, force=force, echo=lambda m: click.echo(m, err=True), lint=findings)
    except RunLocked as exc:
        click.echo(f"ftspec: {exc}", err=True)
        sys.exit(EXIT_FINDINGS)
    except ApplyError as exc:
        click.echo(f"ftspec: {exc.message}", err=True)
        sys.exit(exc.code)
    _print_report(run_dir)


def _print_report(run_dir: Path) -> None:
    from ftspec.report.story import console_lines

    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    for line in console_lines(report, run_dir):
        click.echo(line)


@cli.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
def report(run: str) -> None:
    """Summarise a finished RUN folder and re-render its report.html."""
    from ftspec.core.atomic import write_text_atomic
    from ftspec.report.html import render_report_html

    from ftspec.runs import read_json

    run_dir = Path(run)
    if not (run_dir / "report.json").is_file():
        raise click.ClickException(f"{run}: no report.json (the run has not finished; `ftspec apply` resumes it)")
    data = read_json(run_dir / "report.json")
    if not isinstance(data, dict):
        raise click.ClickException(f"{run}: report.json is unreadable; `ftspec apply` on its spec re-evaluates "
                                   "the run and writes it again")
    write_text_atomic(run_dir / "report.html", render_report_html(data))
    _print_report(run_dir)


@cli.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--merge", is_flag=True, help="Merge the LoRA adapter into the base weights.")
@click.option("-o", "--out", "out", type=click.Path(file_okay=False), help="Destination (default RUN/merged).")
def export(run: str, merge: bool, out: str | None) -> None:
    """Export a RUN's model: the adapter as is, or merged into the base model (--merge)."""
    from ftspec.export import ExportError, export_run

    try:
        dest = export_run(Path(run), merge=merge, out=Path(out) if out else None)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"exported to {dest}")


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
        if __import__("os").environ.get("FTSPEC_DEBUG"):
            raise
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":  # pragma: no cover
    run()
