"""Which settings an index was built with, and which differences force a rebuild.

The fingerprint (model, dimension, chunking, loader version) is stored with the Chroma
collections. A different model or chunking makes the vectors incomparable: the index must be
rebuilt. A new loader changes only the text: the next ingest re-reads every file.
"""

from __future__ import annotations

import json
from typing import Any

from index.errors import IndexMismatch

REPARSE_KEYS = frozenset({"loader_version"})


def dumps(fingerprint: dict[str, Any]) -> str:
    return json.dumps(fingerprint, sort_keys=True)


def vector_keys(fingerprint: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fingerprint.items() if k not in REPARSE_KEYS}


def compare(stored: dict[str, Any], current: dict[str, Any], where: str) -> bool:
    """True when only the loaders differ (re-read every file); raises when vectors differ."""
    diff = [k for k in sorted(set(stored) | set(current)) if stored.get(k) != current.get(k)]
    vectors = [k for k in diff if k not in REPARSE_KEYS]
    if vectors:
        what = ", ".join(f"{k} {stored.get(k)!r} -> {current.get(k)!r}" for k in vectors)
        raise IndexMismatch(
            f"the index in {where} was built with other settings ({what}); "
            "run `qa ingest --rebuild PATH...` to rebuild it"
        )
    return bool(diff)
