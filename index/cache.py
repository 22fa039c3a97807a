"""The local SQLite cache: docstore rows and the FTS5 BM25 index, derived from Chroma.

Nothing here is the only copy of anything: the file is rebuilt from Chroma when it is missing,
was written by another schema, or belongs to another (reset) collection. Document rows, chunk
rows and BM25 change in one transaction, so the docstore and BM25 never disagree. `meta`
records what Chroma state the rows reflect (collection id, generation).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from index.loaders import PageSpan
from index.records import ChunkRecord, DocRecord, DocumentInfo

SCHEMA_VERSION = "2"  # 2: a cache of Chroma (documents carry the record's stamp)
FILE = "index.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, path TEXT UNIQUE NOT NULL, source TEXT NOT NULL, title TEXT,
    format TEXT, sha256 TEXT NOT NULL, size INTEGER, mtime REAL, chars INTEGER,
    pages TEXT, chunks INTEGER, ingested_at REAL, text TEXT NOT NULL, stamp TEXT);
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
_TABLES = ("chunks_fts", "chunks", "documents", "meta")

ChunkRow = tuple[str, str, int, int, int, int | None, str]  # id, doc, idx, start, end, page, text


class Cache:
    """One SQLite file per data dir; a connection per thread (sqlite3 objects are not shared)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILE
        self._local = threading.local()
        with self.db() as db:
            version = _scalar(db, "SELECT value FROM meta WHERE key='schema'", missing=True)
            if version != SCHEMA_VERSION:  # an older layout: it is only a cache, start afresh
                for table in _TABLES:
                    db.execute(f"DROP TABLE IF EXISTS {table}")
            db.executescript(_SCHEMA)
            set_meta(db, "schema", SCHEMA_VERSION)

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level="DEFERRED")
            _wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn()
        with conn:
            yield conn

    def meta(self, key: str) -> str | None:
        row = self.conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # ---- writes (inside `db()`) -------------------------------------------------------------
    @staticmethod
    def put(db: sqlite3.Connection, record: DocRecord, rows: Sequence[ChunkRow]) -> None:
        """Replace a document's rows with a committed record and its chunks."""
        Cache.delete(db, record.doc_id)
        db.execute(
            "INSERT INTO documents(doc_id, path, source, title, format, sha256, size, mtime, "
            "chars, pages, chunks, ingested_at, text, stamp) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                record.doc_id,
                record.path,
                record.source,
                record.title,
                record.format,
                record.sha256,
                record.size,
                record.mtime,
                len(record.text),
                json.dumps([[p.page, p.start, p.end] for p in record.pages]),
                record.chunks,
                record.ingested_at,
                record.text,
                record.stamp,
            ),
        )
        db.executemany(
            'INSERT INTO chunks(chunk_id, doc_id, idx, start, "end", page, text) '
            "VALUES (?,?,?,?,?,?,?)",
            rows,
        )

    @staticmethod
    def delete(db: sqlite3.Connection, doc_id: str) -> None:
        db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
        db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))

    @staticmethod
    def clear(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM chunks")
        db.execute("DELETE FROM documents")
        db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")

    # ---- reads ------------------------------------------------------------------------------
    def stamps(self) -> dict[str, str]:
        rows = self.conn().execute("SELECT doc_id, stamp FROM documents")
        return {d: s or "" for d, s in rows}

    def chunk_ids(self, doc_id: str) -> list[str]:
        rows = self.conn().execute("SELECT chunk_id FROM chunks WHERE doc_id=?", (doc_id,))
        return [r[0] for r in rows]

    def known(self, chunk_ids: Iterable[str]) -> set[str]:
        ids = list(chunk_ids)
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = self.conn().execute(f"SELECT chunk_id FROM chunks WHERE chunk_id IN ({marks})", ids)
        return {r[0] for r in rows}

    def count_chunks(self) -> int:
        return int(_scalar(self.conn(), "SELECT count(*) FROM chunks") or 0)

    def documents(self) -> list[DocumentInfo]:
        rows = self.conn().execute(
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

    def document_by_sha(self, sha256: str) -> str | None:
        sql = "SELECT path FROM documents WHERE sha256=? LIMIT 1"
        row = self.conn().execute(sql, (sha256,)).fetchone()
        return row[0] if row else None

    def document_text(self, path: str) -> tuple[str, list[PageSpan]] | None:
        sql = "SELECT text, pages FROM documents WHERE path=?"
        row = self.conn().execute(sql, (path,)).fetchone()
        if row is None:
            return None
        return row[0], [PageSpan(*p) for p in json.loads(row[1] or "[]")]

    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, ChunkRecord]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.conn().execute(
            f'SELECT c.chunk_id, c.doc_id, d.path, d.source, c.start, c."end", c.page, c.text '
            f"FROM chunks c JOIN documents d USING(doc_id) WHERE c.chunk_id IN ({marks})",
            list(chunk_ids),
        )
        return {r[0]: ChunkRecord(*r) for r in rows}


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


def _scalar(conn: sqlite3.Connection, sql: str, *, missing: bool = False) -> str | int | None:
    try:
        row = conn.execute(sql).fetchone()
    except sqlite3.OperationalError:
        if missing:  # no such table yet
            return None
        raise
    return row[0] if row else None


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
