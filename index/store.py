"""Where the index lives: Chroma for vectors, SQLite for the docstore and BM25 (FTS5).

SQLite is the source of truth. Document rows, chunk rows and the FTS5 BM25 index change in
one transaction, so the docstore and BM25 can never disagree. Chroma is written first and
the SQLite commit comes last; a `dirty` flag brackets every write, so after a crash the next
ingest compares ids and repairs: Chroma ids unknown to SQLite are deleted, documents whose
chunks are missing from Chroma are dropped so they are ingested again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.chunking import Chunk
from index.loaders import LoadedDocument, PageSpan

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, path TEXT UNIQUE NOT NULL, source TEXT NOT NULL, title TEXT,
    format TEXT, sha256 TEXT NOT NULL, size INTEGER, mtime REAL, chars INTEGER,
    pages TEXT, chunks INTEGER, ingested_at REAL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS documents_sha ON documents(sha256);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL,
    idx INTEGER, start INTEGER, "end" INTEGER, page INTEGER, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='rowid', tokenize='porter unicode61');
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.rowid, new.text); END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.rowid, old.text); END;
"""

# Function words: evidence of nothing, so neither retrieval nor scoring counts them.
_STOPWORDS_TEXT = """
a about according after also an and any are as at be been before being but by can could
did do does doing for from had has have having he her him his how i if in into is it its
many me much my not of on or our said say she so tell than that the their them then there
these they this those to was we were what when where which who whom whose why will with
would you your
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_WORD = re.compile(r"\w+", re.UNICODE)

# BM25 leaves out a query term found in more chunks than both of these (see bm25_match) ...
PRUNE_MIN_ROWS = 2000
PRUNE_SHARE = 0.05
# ... but always keeps this many of the query's rarest terms.
KEEP_RAREST = 2


REPARSE_KEYS = frozenset({"loader_version"})


class IndexMismatch(Exception):
    """The index on disk was built differently from what this process would build."""


class StoreUnavailable(Exception):
    """The Chroma server cannot be reached."""


class StoreLocked(Exception):
    """Another process is writing to this data directory."""


@dataclass(frozen=True)
class ChunkRecord:
    chunk_id: str
    doc_id: str
    path: str
    source: str
    start: int
    end: int
    page: int | None
    text: str


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    path: str
    source: str
    title: str
    format: str
    sha256: str
    size: int
    chars: int
    pages: int
    chunks: int
    ingested_at: float


class Store:
    """Open (or create) the index in `data_dir`, checking it was built with `fingerprint`."""

    def __init__(
        self,
        data_dir: Path,
        collection: str,
        fingerprint: dict[str, Any],
        *,
        chroma_host: str | None = None,
        chroma_port: int | None = None,
        verify: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.collection_name = collection
        self.fingerprint = fingerprint
        self.mode = "server" if chroma_host else "embedded"
        self._chroma_addr = (chroma_host or "127.0.0.1", chroma_port or 8000)
        self._collection: Any = None
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._verify = verify  # False only to open a mismatched index in order to reset it
        self.reparse_all = False  # built by older loaders: the next ingest re-reads every file
        with self._db() as db:
            db.executescript(_SCHEMA)
        if verify:
            self._check_fingerprint()

    # ---- SQLite -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.data_dir / "index.sqlite", timeout=30)
            _wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        with conn:
            yield conn

    def _meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def mark_built(self) -> None:
        """Every document now comes from the current loaders: record the fingerprint."""
        with self._db() as db:
            self._set_meta(db, "fingerprint", json.dumps(self.fingerprint, sort_keys=True))
        self.reparse_all = False

    def _check_fingerprint(self) -> None:
        stored = self._meta("fingerprint")
        if stored is None:
            with self._db() as db:
                self._set_meta(db, "fingerprint", json.dumps(self.fingerprint, sort_keys=True))
            return
        old = json.loads(stored)
        diff = [
            k
            for k in sorted(set(old) | set(self.fingerprint))
            if old.get(k) != self.fingerprint.get(k)
        ]
        # A new loader changes the text, not the vectors' space: re-ingest, no rebuild.
        self.reparse_all = bool(diff) and set(diff) <= REPARSE_KEYS
        diff = [k for k in diff if k not in REPARSE_KEYS]
        if diff:
            what = ", ".join(f"{k} {old.get(k)!r} -> {self.fingerprint.get(k)!r}" for k in diff)
            raise IndexMismatch(
                f"the index in {self.data_dir} was built with other settings ({what}); "
                "run `qa ingest --rebuild PATH...` to rebuild it"
            )

    # ---- Chroma -------------------------------------------------------------------------
    @property
    def collection(self) -> Any:
        # Locked: chromadb's client registry races when threads open it at once.
        with self._open_lock:
            if self._collection is None:
                self._collection = self._open_collection()
            return self._collection

    def _open_collection(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self.mode == "server":
                host, port = self._chroma_addr
                client = chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
            else:
                client = chromadb.PersistentClient(
                    path=str(self.data_dir / "chroma"), settings=chroma_settings
                )
            collection = client.get_or_create_collection(
                self.collection_name,
                embedding_function=None,  # never Chroma's default model: it downloads
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"fingerprint": json.dumps(self.fingerprint, sort_keys=True)},
            )
        except Exception as e:
            raise self._translate(e) from e
        stored = (collection.metadata or {}).get("fingerprint")
        if (
            self._verify
            and stored
            and _vector_keys(json.loads(stored)) != _vector_keys(self.fingerprint)
        ):
            raise IndexMismatch(
                f"Chroma collection {self.collection_name!r} was built with other settings; "
                "run `qa ingest --rebuild PATH...` to rebuild it"
            )
        return collection

    def _translate(self, e: Exception) -> Exception:
        if self.mode == "server" and _looks_like_connection_error(e):
            self._collection = None  # reconnect on the next call
            host, port = self._chroma_addr
            return StoreUnavailable(
                f"cannot reach the Chroma server at {host}:{port} ({type(e).__name__})"
            )
        return e

    def _chroma(self, op: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.collection, op)(**kwargs)
        except (IndexMismatch, StoreUnavailable):
            raise
        except Exception as e:
            translated = self._translate(e)
            if "dimension" in str(e).lower():
                raise IndexMismatch(
                    f"Chroma collection {self.collection_name!r} holds vectors of another size; "
                    "run `qa ingest --rebuild PATH...`"
                ) from e
            raise translated from e

    # ---- writes -------------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        """One writer per data dir across processes (flock) and threads."""
        lock_path = self.data_dir / "ingest.lock"
        with self._write_lock, open(lock_path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreLocked(
                    f"another ingest is running on {self.data_dir}; wait for it to finish"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _mark_dirty(self, dirty: bool) -> None:
        with self._db() as db:
            self._set_meta(db, "dirty", "1" if dirty else "0")

    def replace_documents(
        self, batch: Sequence[tuple[str, LoadedDocument, list[Chunk], list[list[float]]]]
    ) -> None:
        """Swap in new versions of documents: Chroma first, then one SQLite commit."""
        self._mark_dirty(True)
        old_ids: list[str] = []
        for doc_id, _, chunks, _ in batch:
            new = {c.chunk_id for c in chunks}
            old_ids += [i for i in self.chunk_ids(doc_id) if i not in new]
        ids = [c.chunk_id for _, _, chunks, _ in batch for c in chunks]
        vectors = [v for _, _, _, vecs in batch for v in vecs]
        metas = [{"doc_id": c.doc_id} for _, _, chunks, _ in batch for c in chunks]
        step = 5000  # under Chroma's max batch size
        for i in range(0, len(ids), step):
            self._chroma(
                "upsert",
                ids=ids[i : i + step],
                embeddings=vectors[i : i + step],
                metadatas=metas[i : i + step],
            )
        if old_ids:
            self._chroma("delete", ids=old_ids)
        with self._db() as db:
            for doc_id, doc, chunks, _ in batch:
                self._delete_rows(db, doc_id)
                db.execute(
                    "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        doc_id,
                        doc.path,
                        doc.source,
                        doc.title,
                        doc.format,
                        doc.sha256,
                        doc.size,
                        doc.mtime,
                        len(doc.text),
                        json.dumps([[p.page, p.start, p.end] for p in doc.pages]),
                        len(chunks),
                        time.time(),
                        doc.text,
                    ),
                )
                db.executemany(
                    'INSERT INTO chunks(chunk_id, doc_id, idx, start, "end", page, text) '
                    "VALUES (?,?,?,?,?,?,?)",
                    [(c.chunk_id, c.doc_id, c.idx, c.start, c.end, c.page, c.text) for c in chunks],
                )
            self._set_meta(db, "dirty", "0")

    def remove_document(self, doc_id: str) -> int:
        ids = self.chunk_ids(doc_id)
        self._mark_dirty(True)
        if ids:
            self._chroma("delete", ids=ids)
        with self._db() as db:
            self._delete_rows(db, doc_id)
            self._set_meta(db, "dirty", "0")
        return len(ids)

    @staticmethod
    def _delete_rows(db: sqlite3.Connection, doc_id: str) -> None:
        db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
        db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))

    def repair(self, *, force: bool = False) -> tuple[int, int]:
        """Make Chroma and SQLite agree after a crash. Returns (orphans deleted, docs dropped)."""
        if (
            not force
            and self._meta("dirty") != "1"
            and self.count_chunks() == self._chroma("count")
        ):
            return 0, 0
        chroma_ids: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self._chroma("get", include=[], limit=page, offset=offset)["ids"]
            chroma_ids.update(got)
            if len(got) < page:
                break
            offset += page
        rows = self._conn().execute("SELECT chunk_id, doc_id FROM chunks").fetchall()
        known = {cid for cid, _ in rows}
        broken = sorted({doc for cid, doc in rows if cid not in chroma_ids})
        dropped = set(broken)  # their surviving vectors would outlive them: they go too
        stale = {cid for cid, doc in rows if doc in dropped and cid in chroma_ids}
        orphans = sorted((chroma_ids - known) | stale)
        for i in range(0, len(orphans), 5000):
            self._chroma("delete", ids=orphans[i : i + 5000])
        with self._db() as db:
            for doc_id in broken:
                self._delete_rows(db, doc_id)
            self._set_meta(db, "dirty", "0")
        if orphans or broken:
            log.warning(
                "repaired index: %d orphan vectors deleted, %d documents to re-ingest",
                len(orphans),
                len(broken),
            )
        return len(orphans), len(broken)

    def reset(self) -> None:
        """Drop everything (for --rebuild): vectors, docstore, BM25 and the fingerprint."""
        try:
            self.collection._client.delete_collection(self.collection_name)
        except Exception as e:
            raise self._translate(e) from e
        self._collection = None
        self._verify = True
        with self._db() as db:
            db.execute("DELETE FROM chunks")
            db.execute("DELETE FROM documents")
            db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
            self._set_meta(db, "fingerprint", json.dumps(self.fingerprint, sort_keys=True))
            self._set_meta(db, "dirty", "0")

    # ---- reads --------------------------------------------------------------------------
    def chunk_ids(self, doc_id: str) -> list[str]:
        rows = self._conn().execute("SELECT chunk_id FROM chunks WHERE doc_id=?", (doc_id,))
        return [r[0] for r in rows]

    def count_chunks(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM chunks").fetchone()[0])

    def count_vectors(self) -> int:
        return int(self._chroma("count"))

    def documents(self) -> list[DocumentInfo]:
        rows = self._conn().execute(
            "SELECT doc_id, path, source, title, format, sha256, size, chars, pages, chunks, "
            "ingested_at FROM documents ORDER BY path"
        )
        return [
            DocumentInfo(
                r[0],
                r[1],
                r[2],
                r[3] or "",
                r[4] or "",
                r[5],
                r[6] or 0,
                r[7] or 0,
                len(json.loads(r[8] or "[]")),
                r[9] or 0,
                r[10] or 0.0,
            )
            for r in rows
        ]

    def document_by_path(self, path: str) -> DocumentInfo | None:
        return next((d for d in self.documents() if d.path == path), None)

    def document_by_sha(self, sha256: str) -> str | None:
        row = (
            self._conn()
            .execute("SELECT path FROM documents WHERE sha256=? LIMIT 1", (sha256,))
            .fetchone()
        )
        return row[0] if row else None

    def document_text(self, path: str) -> tuple[str, list[PageSpan]] | None:
        """The loader's text of an ingested document and its page ranges (PDF)."""
        row = (
            self._conn()
            .execute("SELECT text, pages FROM documents WHERE path=?", (path,))
            .fetchone()
        )
        if row is None:
            return None
        return row[0], [PageSpan(*p) for p in json.loads(row[1] or "[]")]

    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, ChunkRecord]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self._conn().execute(
            f'SELECT c.chunk_id, c.doc_id, d.path, d.source, c.start, c."end", c.page, c.text '
            f"FROM chunks c JOIN documents d USING(doc_id) WHERE c.chunk_id IN ({marks})",
            list(chunk_ids),
        )
        return {r[0]: ChunkRecord(*r) for r in rows}

    def dense_search(self, vector: list[float], n: int) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity), best first."""
        count = self.count_chunks()
        if count == 0:
            return []
        res = self._chroma(
            "query", query_embeddings=[vector], n_results=min(n, count), include=["distances"]
        )
        return [
            (cid, 1.0 - dist) for cid, dist in zip(res["ids"][0], res["distances"][0], strict=True)
        ]

    def bm25_search(self, query: str, n: int) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score), best first; FTS5 ranks are negated so higher is better."""
        match = bm25_match(self._conn(), query)
        if not match:
            return []
        rows = self._conn().execute(
            "SELECT c.chunk_id, bm25(chunks_fts) AS r FROM chunks_fts "
            "JOIN chunks c ON c.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ? "
            "ORDER BY r LIMIT ?",
            (match, n),
        )
        return [(cid, -rank) for cid, rank in rows]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def bm25_match(conn: sqlite3.Connection, query: str) -> str:
    """The FTS5 query for `query`: its terms OR-ed together, less the very common ones.

    FTS5 scores every chunk that holds any query term, so at 50K chunks a few terms found in
    a tenth of them cost BM25 more than the whole dense search takes. Such a term tells little
    about which chunk answers (idf log((N-n+.5)/(n+.5)) is ~2 at 10% of chunks, ~10 for a
    term in one chunk), so it is left out when it is in more than PRUNE_MIN_ROWS chunks *and*
    more than PRUNE_SHARE of all chunks; the KEEP_RAREST rarest terms always stay. Chunks
    holding only left-out terms then drop off the end of the BM25 list. A corpus under
    PRUNE_MIN_ROWS chunks gets the full query. Counts come from the index on every call, by
    MATCH (an fts5vocab table lists porter stems, which only SQLite's tokenizer knows how to
    make from the words; and it is no faster): nothing is cached that could go stale while
    other processes write, and the schema is unchanged.
    """
    words = _WORD.findall(query.lower())
    terms = list(dict.fromkeys([t for t in words if t not in STOPWORDS] or words))
    phrases = ['"' + t.replace('"', "") + '"' for t in terms]
    if len(phrases) <= KEEP_RAREST:
        return " OR ".join(phrases)
    total = int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
    cut = int(max(PRUNE_MIN_ROWS, PRUNE_SHARE * total))
    if total > cut:
        count = "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?"
        rows = [conn.execute(count, (p,)).fetchone()[0] for p in phrases]
        rarest = sorted(range(len(phrases)), key=rows.__getitem__)[:KEEP_RAREST]
        phrases = [p for i, p in enumerate(phrases) if rows[i] <= cut or i in rarest]
    return " OR ".join(phrases)


def _vector_keys(fingerprint: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fingerprint.items() if k not in REPARSE_KEYS}


def _wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. On a new file two processes can race for it, and SQLite answers "database
    is locked" at once instead of waiting out the busy timeout: so wait here."""
    for attempt in range(300):  # ~30 s, like the busy timeout
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == 299:
                raise
            time.sleep(0.1)


def _looks_like_connection_error(e: Exception) -> bool:
    text = f"{type(e).__name__} {e}".lower()
    return any(k in text for k in ("connect", "refused", "timeout", "timed out", "unreachable"))
