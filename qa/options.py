"""Settings mapped to what index/ takes as parameters (index/ reads no settings)."""

from __future__ import annotations

import dataclasses
from typing import Any

import index
from qa.settings import Settings


def fingerprint(s: Settings) -> dict[str, Any]:
    """What an index was built with: a store opened with other values refuses to mix them."""
    return {
        "embed_model": index.MODEL_NAME,
        "dimension": index.DIMENSION,
        "chunk_size": s.chunk_size,
        "chunk_overlap": s.chunk_overlap,
        "loader_version": index.LOADER_VERSION,
    }


def limits(s: Settings) -> index.Limits:
    """What one file may cost to ingest; a refusal names the QA_* setting that raises it."""
    names = [f.name for f in dataclasses.fields(index.Limits) if f.name != "env_prefix"]
    prefix = str(s.model_config.get("env_prefix", ""))
    return index.Limits(**{n: getattr(s, n) for n in names}, env_prefix=prefix)


def ingest_options(s: Settings) -> index.IngestOptions:
    return index.IngestOptions(
        chunk_size=s.chunk_size,
        chunk_overlap=s.chunk_overlap,
        embed_batch_size=s.embed_batch_size,
        embed_backend=s.embed_backend,
        embed_precision=s.embed_precision,
        limits=limits(s),
    )
