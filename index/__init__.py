"""Documents in: loading, chunking with offsets, embeddings, the Chroma/SQLite store, ingestion.

Reads no settings: every value arrives as a parameter, so each piece is testable alone.
"""

from index.chunking import Chunk, chunk_document, doc_id_for
from index.embeddings import (
    BATCH_SIZE,
    DIMENSION,
    MODEL_NAME,
    Backend,
    embed_query,
    embed_texts,
)
from index.environment import set_env_defaults
from index.errors import (
    EncoderUnavailable,
    IndexMismatch,
    LimitError,
    LoadError,
    StoreLocked,
    StoreUnavailable,
)
from index.ingest import FileReport, IngestOptions, IngestReport, Progress, discover, ingest
from index.limits import Limits
from index.loaders import (
    LOADER_VERSION,
    SUPPORTED,
    LoadedDocument,
    PageSpan,
    load,
    page_at,
)
from index.store import (
    ChunkRecord,
    DocumentInfo,
    Store,
)
from index.tuning import EncoderChoice, choose_encoder

__all__ = [
    "BATCH_SIZE",
    "DIMENSION",
    "LOADER_VERSION",
    "MODEL_NAME",
    "SUPPORTED",
    "Backend",
    "Chunk",
    "ChunkRecord",
    "DocumentInfo",
    "EncoderChoice",
    "EncoderUnavailable",
    "FileReport",
    "IndexMismatch",
    "IngestOptions",
    "IngestReport",
    "LimitError",
    "Limits",
    "LoadError",
    "LoadedDocument",
    "PageSpan",
    "Progress",
    "Store",
    "StoreLocked",
    "StoreUnavailable",
    "choose_encoder",
    "chunk_document",
    "discover",
    "doc_id_for",
    "embed_query",
    "embed_texts",
    "ingest",
    "load",
    "page_at",
    "set_env_defaults",
]
