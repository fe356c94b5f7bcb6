"""Find a spec's base model on this machine without torch, transformers or huggingface_hub.

Lint and plan only need config.json and tokenizer files, so resolution reads the local folder or the
Hugging Face cache layout directly and never touches the network. A hub model that is not cached is
not an error here: it comes back as kind "hub" and the caller decides what that means.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from ftspec.models.tiny import TINY_ID, tiny_model_dir
from ftspec.runfolder.parent import ParentRun, find_parent, is_run_reference

# A pretrained demo chat model whose folder ships inside the package (see tiny_chat/README.md). It is
# an ordinary model folder, so it loads exactly as a local or hub model does.
TINY_CHAT_ID = "builtin:tiny-chat"
TINY_CHAT_DIR = Path(__file__).resolve().parent / "tiny_chat"
BUILTINS = (TINY_ID, TINY_CHAT_ID)

ModelKind = Literal["builtin", "local", "hub-cache", "hub"]

_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ModelRef:
    base: str
    kind: ModelKind
    local_dir: Path | None = None
    # A dict is unhashable; leaving it out of eq/hash keeps the ref usable as a key.
    config: dict | None = field(default=None, compare=False, hash=False, repr=False)
    tokenizer_file: Path | None = None
    revision: str | None = None
    # model.base named an earlier run: this ref is then what that run's weights start from (its base model, or its
    # full fine-tuned model folder), and ``parent`` is the run itself.
    parent: ParentRun | None = field(default=None, compare=False, hash=False, repr=False)


def hf_hub_cache() -> Path:
    """The hub cache folder, chosen as huggingface_hub chooses it."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def _looks_like_path(base: str) -> bool:
    return base.startswith((".", "/", "~", "\\")) or os.path.isabs(base) or base.endswith(("/", os.sep))


def _read_config(folder: Path) -> dict | None:
    path = folder / "config.json"
    if not path.exists() or path.is_dir():
        return None
    try:
        import stat

        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ValueError("not a regular file")
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
            return json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ValueError(f"{path}: unreadable config.json ({exc})") from None


def _from_folder(base: str, kind: ModelKind, folder: Path, revision: str | None) -> ModelRef:
    tokenizer = folder / "tokenizer.json"
    present = tokenizer.exists() and not tokenizer.is_dir()  # a FIFO too: loading it then says what is wrong
    return ModelRef(base=base, kind=kind, local_dir=folder, config=_read_config(folder),
                    tokenizer_file=tokenizer if present else None, revision=revision)


def _cached_snapshot(repo_id: str, revision: str | None) -> Path | None:
    repo = hf_hub_cache() / f"models--{repo_id.replace('/', '--')}"
    ref = revision or "main"
    commit = ref if _COMMIT_RE.match(ref) else None
    if commit is None:
        try:
            commit = (repo / "refs" / ref).read_text(encoding="utf-8").strip()
        except (OSError, ValueError):
            return None
    snapshot = repo / "snapshots" / commit
    # A snapshot without config.json is a partial download (say, only the tokenizer): not usable.
    return snapshot if (snapshot / "config.json").is_file() else None


def resolve_model(base: str, revision: str | None = None, *, spec_dir: Path | None = None) -> ModelRef:
    """Say where ``base`` lives: the builtin, a local folder, the HF cache, or only on the hub.

    Raises ValueError for an unknown ``builtin:`` name or an unreadable local config.json.
    """
    if base.startswith("builtin:"):
        if base == TINY_CHAT_ID:
            return _from_folder(base, "builtin", TINY_CHAT_DIR, revision)
        if base != TINY_ID:
            raise ValueError(f"unknown builtin model {base!r}; the builtins are {', '.join(map(repr, BUILTINS))}")
        return _from_folder(base, "builtin", tiny_model_dir(with_weights=False), revision)

    folder = Path(base).expanduser()
    if not folder.is_absolute() and spec_dir is not None:
        folder = Path(spec_dir) / folder
    # An existing folder wins over a hub id of the same shape ("org/name" can be a relative path).
    if folder.is_dir():
        return _from_folder(base, "local", folder.resolve(), revision)
    if _looks_like_path(base):
        # A missing folder is still a local model: lint reports it rather than looking on the hub.
        return ModelRef(base=base, kind="local", local_dir=folder.resolve(), revision=revision)

    snapshot = _cached_snapshot(base, revision)
    if snapshot is not None:
        return _from_folder(base, "hub-cache", snapshot, revision)
    return ModelRef(base=base, kind="hub", revision=revision)


def runs_dir(spec, spec_dir: Path | None) -> Path:
    """<output.dir>, resolved against the spec's folder: where ``run:<name>`` looks."""
    out = Path(spec.output.dir).expanduser()
    return out if out.is_absolute() or spec_dir is None else Path(spec_dir) / out


def resolve_spec_model(spec, spec_dir: Path | None, spec_file: Path | None = None) -> ModelRef:
    """``resolve_model`` for a spec's model.base, which may also name an earlier run (``run:<name>`` or its folder):
    then the base model of that run (or its full fine-tuned weights), with ``parent`` set. Raises ValueError
    (ParentError for a run that cannot be trained on)."""
    base, revision = spec.model.base, spec.model.revision
    if not is_run_reference(base, spec_dir):
        return resolve_model(base, revision, spec_dir=spec_dir)
    parent = find_parent(base, Path(spec_dir or "."), runs_dir(spec, spec_dir), spec_file)
    if parent.peft:
        m = parent.job_model
        ref = resolve_model(m["base"], m.get("revision"))
    else:  # a full fine-tune: its model/ folder is the new base, tokenizer included
        ref = _from_folder(str(parent.weights_dir), "local", parent.weights_dir, None)
    return replace(ref, parent=parent)


def model_source(base: str, revision: str | None = None, *, spec_dir: Path | None = None) -> tuple[str, str | None]:
    """(folder or hub id, revision) to hand to ``from_pretrained``; the builtin's weights are written on first
    use. Raises ValueError for an unknown builtin or a local folder that does not exist."""
    ref = resolve_model(base, revision, spec_dir=spec_dir)
    if ref.kind == "builtin":
        if base == TINY_CHAT_ID:
            return str(TINY_CHAT_DIR), None
        return str(tiny_model_dir(with_weights=True)), None
    if ref.kind == "local":
        if not (ref.local_dir and ref.local_dir.is_dir()):
            raise ValueError(f"model folder {ref.local_dir} does not exist")
        return str(ref.local_dir), None
    if ref.kind == "hub-cache":
        return str(ref.local_dir), None  # the pinned snapshot folder
    return base, revision
