"""sha256 of files and of JSON-able values: what fingerprints, run ids, manifests and saved plans are made of."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_sha256(value) -> str:
    """sha256 of ``value`` as canonical JSON (sorted keys, UTF-8): equal for equal values, whatever the key order."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
