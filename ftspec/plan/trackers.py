"""The trackers of ``tracking:``, where each one writes, and the check that refuses one that could not log before
anything trains (a dead MLflow server found after hours of training would leave the run unlogged)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from urllib.parse import urlparse

from ftspec.plan.compile import PlanError

CODE = "FT010"
INSTALL = "pip install 'ftspec[tracking]'"
# A probe that answers within this many seconds is reachable; the plan waits no longer.
PROBE_TIMEOUT_S = 5.0
# MLflow's sqlite store needs these beside mlflow itself (mlflow-skinny leaves them out).
SQL_MODULES = ("sqlalchemy", "alembic")


def entries(spec) -> list[tuple[int, str, object]]:
    """(index in ``tracking``, tracker name, its options or None) of each tracker."""
    out = []
    for i, tracker in enumerate(spec.tracking):
        if isinstance(tracker, str):
            out.append((i, tracker, None))
        elif hasattr(tracker, "mlflow"):
            out.append((i, "mlflow", tracker.mlflow))
        else:
            out.append((i, "wandb", tracker.wandb))
    return out


def output_dir(spec, spec_dir: Path) -> Path:
    """``output.dir``: the folder that holds ``<name>/`` and the local tracker stores beside it."""
    out = Path(spec.output.dir).expanduser()
    return out if out.is_absolute() else Path(spec_dir).resolve() / out


def mlflow_uri(options, spec, spec_dir: Path) -> str:
    """The tracking URI to log to. Default: a sqlite store in ``<output.dir>/mlruns`` (MLflow 3 refuses its file store
    unless told otherwise, and a database needs no server). Relative local paths are the spec's, like every path."""
    uri = options.tracking_uri if options is not None else None
    if uri is None:
        return "sqlite:///" + str(output_dir(spec, spec_dir) / "mlruns" / "mlflow.db")
    path = local_path(uri)
    if path is None or path.is_absolute():
        return uri
    full = (Path(spec_dir).resolve() / path).resolve()
    return "sqlite:///" + str(full) if uri.startswith("sqlite:") else full.as_uri()


def local_path(uri: str) -> Path | None:
    """The file or folder a local store URI names (sqlite: its database, file: or a bare path: its folder)."""
    if uri.startswith("sqlite:"):
        rest = uri[len("sqlite:"):]
        if not rest.startswith("///") or rest == "///:memory:":
            return None
        return Path(rest[3:].split("?", 1)[0])
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):  # a bare path (or a drive letter)
        return Path(uri).expanduser()
    return None


def artifact_root(uri: str) -> str | None:
    """Where a new experiment in a sqlite store keeps its artifacts: beside the database (MLflow's own default is the
    current folder's ./mlruns, wherever apply happens to run)."""
    path = local_path(uri) if uri.startswith("sqlite:") else None
    return (path.parent / "artifacts").as_uri() if path is not None and path.is_absolute() else None


def wandb_dir(spec, spec_dir: Path) -> Path:
    """W&B's folder, beside the runs (wandb.init adds its own ``wandb/`` under it)."""
    return output_dir(spec, spec_dir)


def check_trackers(spec, spec_dir: Path) -> None:
    """PlanError at the spec key of the first tracker that could not log: its library is missing, its local store's
    folder cannot be made, its MLflow server does not answer, or W&B online has no API key."""
    for i, name, options in entries(spec):
        if name == "mlflow":
            _check_mlflow(i, options, spec, spec_dir)
        elif name == "wandb":
            _check_wandb(i, options, spec, spec_dir)


def _refuse(message: str, at: tuple, hint: str | None = None) -> PlanError:
    return PlanError(message, spec_path=("tracking", *at), code=CODE, hint=hint)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None  # found, not imported: the plan stays light


def _check_mlflow(i: int, options, spec, spec_dir: Path) -> None:
    given = options is not None and options.tracking_uri is not None
    at = (i, "mlflow", "tracking_uri") if given else (i,)
    uri = mlflow_uri(options, spec, spec_dir)
    need = ("mlflow", *(SQL_MODULES if uri.startswith("sqlite:") else ()))
    missing = [m for m in need if not _installed(m)]
    if missing:
        raise _refuse(f"tracking: mlflow needs {', '.join(missing)}, not installed in this environment", at, INSTALL)
    path = local_path(uri)
    if path is not None:
        folder = path.parent if uri.startswith("sqlite:") else path
        why = _not_creatable(folder)
        if why:
            raise _refuse(f"tracking: the MLflow store {uri} cannot be written: {why}", at,
                          "give a tracking_uri in a folder this user can write, or fix that folder")
    elif urlparse(uri).scheme in ("http", "https"):
        why = _unreachable(uri)
        if why:
            raise _refuse(f"tracking: the MLflow server {uri} cannot be reached ({why}); nothing was trained", at,
                          "start the server or fix tracking_uri; leave tracking_uri out for a local store beside "
                          "the runs")


def _check_wandb(i: int, options, spec, spec_dir: Path) -> None:
    if not _installed("wandb"):
        raise _refuse("tracking: wandb is not installed in this environment", (i,), INSTALL)
    why = _not_creatable(wandb_dir(spec, spec_dir))
    if why:
        raise _refuse(f"tracking: W&B's folder cannot be written: {why}", (i,))
    if options is not None and options.mode == "online" and not _wandb_key():
        raise _refuse("tracking: wandb mode online needs an API key: WANDB_API_KEY is not set (nor a `wandb login`)",
                      (i, "wandb", "mode"), "export WANDB_API_KEY=..., or mode: offline (then `wandb sync`)")


def _wandb_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    import netrc

    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return bool(netrc.netrc().authenticators(host))
    except (OSError, netrc.NetrcParseError):
        return False


def _not_creatable(folder: Path) -> str | None:
    """Why ``folder`` cannot be made and written, without making it (planning writes nothing)."""
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def _unreachable(uri: str) -> str | None:
    """Why nothing answers at ``uri``; any HTTP answer (a 401 or 404 included) means a server is there."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=PROBE_TIMEOUT_S):
            return None
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return str(reason) or type(reason).__name__
