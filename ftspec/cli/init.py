"""`ftspec init [PATH]`: a commented starter spec with the guides' recommended values."""

from __future__ import annotations

from pathlib import Path

import click

from ftspec.methods import method_names


@click.command()
@click.argument("path", type=click.Path(dir_okay=False), default="ftspec.yaml")
@click.option("--method", type=click.Choice(method_names()), default="sft", show_default=True)
@click.option("--adapter", type=click.Choice(["lora", "rslora", "qlora", "full"]), default="lora", show_default=True)
@click.option("--base", default="builtin:tiny", show_default=True, help="Base model: hub id, folder, builtin:tiny-chat, builtin:tiny.")
@click.option("--name", default=None, help="Job name (default: the file's stem).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, method: str, adapter: str, base: str, name: str | None, force: bool) -> None:
    """Write a commented starter spec with the guides' recommended values."""
    from ftspec.core.atomic import write_text_atomic
    from ftspec.core.templating import render
    from ftspec.methods import get_method
    from ftspec.spec.schema import DEFAULT_LEARNING_RATE, SCHEMA_URL, Spec

    target = Path(path)
    if target.exists() and not force:
        raise click.ClickException(f"{path} exists; pass --force to overwrite")
    accelerator = "cpu" if base.startswith("builtin:") else "h100"
    if adapter == "qlora" and accelerator == "cpu":
        raise click.UsageError("qlora needs a GPU; choose another adapter for the builtin tiny model")
    rank, alpha = (64, 6) if adapter == "rslora" else (32, 4)  # Ark: sqrt(rank) >= alpha
    chosen = get_method(method)
    over_length = Spec.model_validate({"name": "starter", "method": method, "data": {"train": "x"}}).over_length
    text = render(
        "init.yaml.j2",
        schema_ref=SCHEMA_URL,
        filename=target.name,
        name=name or target.stem.replace("_", "-"),
        method=method,
        methods=" | ".join(method_names()),
        adapter=adapter,
        base=base,
        rank=rank,
        alpha=alpha,
        learning_rate=DEFAULT_LEARNING_RATE[adapter],
        epochs=chosen.starter_epochs,
        epochs_note="Ark: usually 2-5" if chosen.has_validation_loss else "RL samples anew each epoch",
        validation=chosen.has_validation_loss,
        starter_section=chosen.starter_section.rstrip("\n"),
        train=chosen.starter_train_file,
        over_length={"drop": "dropped", "truncate": "truncated"}[over_length],
        packing=chosen.starter_packing,
        holdout=chosen.starter_holdout,
        accelerator=accelerator,
    )
    write_text_atomic(target, text)
    click.echo(f"wrote {path}")
