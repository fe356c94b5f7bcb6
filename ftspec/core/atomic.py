"""Atomic file writes: a reader (or a later run) never sees a half-written file.

The data goes to a hidden temporary file next to the target (``.<name>.tmp-XXXXXXXX``), is flushed to disk,
then renamed over the target. A process killed in between leaves only the temporary file, which
``clean_temp_files`` removes on the next apply. Files get the mode the umask gives new files.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

TEMP_MARK = ".tmp-"
_TEMP = re.compile(r"^\..+\.tmp-[A-Za-z0-9_]+$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 whatever the umask; keep the usual mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_dir(staged: Path, dest: Path) -> None:
    """Put the folder ``staged`` (complete, beside ``dest``) in ``dest``'s place; the old ``dest`` is removed. A
    kill in between leaves ``dest`` missing or whole, never a mix of both."""
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(staged, dest)
    shutil.rmtree(old, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def clean_temp_files(folder: Path) -> int:
    """Remove the temporary files of writes a killed process left under ``folder``; how many there were."""
    n = 0
    if not Path(folder).is_dir():
        return 0
    for path in Path(folder).rglob(f".*{TEMP_MARK}*"):
        if _TEMP.match(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            n += 1
    return n
