"""The Chroma side of the index: the one source of truth, embedded or on a server.

Three collections share the configured name:
* `<name>`: one record per chunk: its vector, its text (the document field) and metadata
  (doc_id, path, sha = the document version, idx, start, end, page);
* `<name>_docs`: one record per document: the loader's full text (citations are checked
  against it), sha256, size, mtime, page ranges, loader version and a commit stamp; its
  vector is the mean of its chunk vectors. Its collection metadata holds the fingerprint and
  the index generation, which every committed ingest or removal moves on;
* `<name>_lease`: the write lease (index.lease).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import index.fingerprint as fp
from index.errors import StoreUnavailable
from index.records import DocRecord

PAGE = 5000  # under Chroma's max batch size
IDS_PER_GET = 500  # ids or doc ids per `get`: keeps the request and SQLite's variables small


@dataclass(frozen=True)
class Head:
    """What a reader compares with its cache: which collection, at which generation."""

    collection_id: str
    generation: int
    fingerprint: dict[str, Any]


class ChromaStore:
    def __init__(
        self,
        name: str,
        fingerprint: dict[str, Any],
        *,
        path: Path,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.name = name
        self.fingerprint = fingerprint
        self.mode = "server" if host else "embedded"
        self.path = path
        self.addr = (host or "127.0.0.1", port or 8000)
        self._open: dict[str, Any] = {}
        self._client: Any = None
        self._lock = threading.Lock()  # chromadb's client registry races when threads open it

    # ---- connections ------------------------------------------------------------------------
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self.mode == "server":
                host, port = self.addr
                return chromadb.HttpClient(host=host, port=port, settings=settings)
            with self._embedded_lock():
                return chromadb.PersistentClient(path=str(self.path), settings=settings)
        except Exception as e:
            raise self.translate(e) from e

    @contextlib.contextmanager
    def _embedded_lock(self) -> Iterator[None]:
        """Processes opening a new embedded store at once race in Chroma's own migrations
        ("table collections already exists") and collection creation: one at a time."""
        if self.mode == "server":
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.parent / "chroma.open.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def collection(self, kind: str = "chunks") -> Any:
        """`chunks`, `docs` or `lease`, created on first use."""
        found = self._open.get(kind)
        if found is not None:
            return found
        name = {"chunks": self.name, "docs": f"{self.name}_docs", "lease": f"{self.name}_lease"}
        meta = {"fingerprint": fp.dumps(self.fingerprint)}
        if kind == "docs":
            meta["generation"] = 0  # type: ignore[assignment]
        config = {"hnsw": {"space": "cosine"}} if kind != "lease" else None
        client = self.client()
        for attempt in range(2):  # another replica may create it between get and create
            try:
                with self._embedded_lock():
                    col = client.get_or_create_collection(
                        name[kind],
                        embedding_function=None,  # never Chroma's default model: it downloads
                        configuration=config,
                        metadata=meta,
                    )
                break
            except Exception as e:
                if attempt == 0 and "already exists" in str(e).lower():
                    continue
                raise self.translate(e) from e
        self._open[kind] = col
        return col

    def forget(self) -> None:
        """Reopen everything on the next call (a reset, or a server that went away)."""
        self._open = {}

    def translate(self, e: Exception) -> Exception:
        if self.mode == "server" and _looks_like_connection_error(e):
            self.forget()
            host, port = self.addr
            return StoreUnavailable(
                f"cannot reach the Chroma server at {host}:{port} ({type(e).__name__})"
            )
        if "dimension" in str(e).lower():
            return fp.IndexMismatch(
                f"Chroma collection {self.name!r} holds vectors of another size; "
                "run `qa ingest --rebuild PATH...`"
            )
        return e

    def call(self, kind: str, op: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.collection(kind), op)(**kwargs)
        except (fp.IndexMismatch, StoreUnavailable):
            raise
        except Exception as e:
            raise self.translate(e) from e

    # ---- the head: fingerprint and generation ---------------------------------------------------
    def head(self) -> Head:
        """Read fresh from Chroma (one round trip): a collection object caches its metadata."""
        docs = self.collection("docs")
        try:
            fresh = self.client().get_collection(docs.name)
        except Exception as e:
            self.forget()  # deleted by a reset elsewhere: reopen
            raise self.translate(e) from e
        if fresh.id != docs.id:  # deleted and made again by a reset elsewhere
            self.forget()
        meta = fresh.metadata or {}
        return Head(
            str(fresh.id), int(meta.get("generation") or 0), _loads(meta.get("fingerprint"))
        )

    def set_head(self, generation: int, fingerprint: dict[str, Any]) -> None:
        meta = {"fingerprint": fp.dumps(fingerprint), "generation": generation}
        self.call("docs", "modify", metadata=meta)

    # ---- chunks -----------------------------------------------------------------------------
    def put_chunks(
        self,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        texts: Sequence[str],
        metas: Sequence[dict[str, Any]],
    ) -> None:
        for i in range(0, len(ids), PAGE):
            s = slice(i, i + PAGE)
            self.call(
                "chunks",
                "upsert",
                ids=list(ids[s]),
                embeddings=list(vectors[s]),
                documents=list(texts[s]),
                metadatas=list(metas[s]),
            )

    def delete_chunks(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), PAGE):
            self.call("chunks", "delete", ids=list(ids[i : i + PAGE]))

    def chunks_of(self, doc_ids: Sequence[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(chunk id, text, metadata) of every chunk tagged with one of these documents."""
        for i in range(0, len(doc_ids), IDS_PER_GET):
            part = list(doc_ids[i : i + IDS_PER_GET])
            where = {"doc_id": part[0]} if len(part) == 1 else {"doc_id": {"$in": part}}
            got = self.call("chunks", "get", where=where, include=["documents", "metadatas"])
            yield from zip(got["ids"], got["documents"], got["metadatas"], strict=True)

    def all_chunks(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(chunk id, metadata) of every chunk, a page at a time."""
        offset = 0
        while True:
            got = self.call("chunks", "get", include=["metadatas"], limit=PAGE, offset=offset)
            yield from zip(got["ids"], got["metadatas"], strict=True)
            if len(got["ids"]) < PAGE:
                return
            offset += PAGE

    def holds_legacy_chunks(self) -> bool:
        """Chunks written before Chroma held texts and versions (metadata is only doc_id)."""
        got = self.call("chunks", "get", limit=1, include=["metadatas"])
        return bool(got["ids"]) and "version" not in (got["metadatas"][0] or {})

    def count_chunks(self) -> int:
        return int(self.call("chunks", "count"))

    def query(self, vector: list[float], n: int) -> list[tuple[str, float]]:
        res = self.call(
            "chunks", "query", query_embeddings=[vector], n_results=n, include=["distances"]
        )
        return [(c, 1.0 - d) for c, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    # ---- documents --------------------------------------------------------------------------
    def put_records(self, records: Sequence[DocRecord], vectors: Sequence[list[float]]) -> None:
        self.call(
            "docs",
            "upsert",
            ids=[r.doc_id for r in records],
            embeddings=list(vectors),
            documents=[r.text for r in records],
            metadatas=[r.metadata() for r in records],
        )

    def delete_records(self, doc_ids: Sequence[str]) -> None:
        if doc_ids:
            self.call("docs", "delete", ids=list(doc_ids))

    def record_heads(self) -> dict[str, DocRecord]:
        """Every document record without its text (the text is fetched only where needed)."""
        out: dict[str, DocRecord] = {}
        offset = 0
        while True:
            got = self.call("docs", "get", include=["metadatas"], limit=PAGE, offset=offset)
            for doc_id, meta in zip(got["ids"], got["metadatas"], strict=True):
                out[doc_id] = DocRecord.from_chroma(doc_id, meta, None)
            if len(got["ids"]) < PAGE:
                return out
            offset += PAGE

    def records(self, doc_ids: Sequence[str]) -> Iterator[DocRecord]:
        """Full records, text included, a slice of ids at a time (texts can be large)."""
        for i in range(0, len(doc_ids), 100):
            got = self.call(
                "docs", "get", ids=list(doc_ids[i : i + 100]), include=["documents", "metadatas"]
            )
            for doc_id, text, meta in zip(
                got["ids"], got["documents"], got["metadatas"], strict=True
            ):
                yield DocRecord.from_chroma(doc_id, meta, text)

    def reset(self) -> None:
        """Delete the chunk and document collections (the lease stays: its holder resets)."""
        client = self.client()
        for name in (self.name, f"{self.name}_docs"):
            try:
                client.delete_collection(name)
            except Exception as e:
                if _looks_like_connection_error(e):
                    raise self.translate(e) from e
        self.forget()


def _loads(text: Any) -> dict[str, Any]:
    import json

    return dict(json.loads(text)) if isinstance(text, str) and text else {}


def _looks_like_connection_error(e: Exception) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    return any(k in text for k in ("connect", "refused", "timeout", "timed out", "unreachable"))
