"""A fork server for the kill -9 trials: load the model once, fork a fresh process per ingest.

Loading torch and the model takes seconds; forking a process that has loaded them (but never
run them, and never opened Chroma) takes milliseconds, so a trial can kill many real ingests.
Each child is a whole process running the real Engine.ingest on a real Chroma and SQLite, and
is killed with SIGKILL by the test. Protocol: JSON lines on stdin, JSON lines on stdout.

    {"op": "ingest", "data": DIR, "folder": DIR, "batch": 2}
        -> {"child": PID}, {"p": N, "of": TOTAL}..., {"report": {...}}, {"exit": STATUS}
    {"op": "dump", "data": DIR, "out": FILE}   write the index's full state as JSON to FILE
        -> {"child": PID}, {"exit": STATUS}
    {"op": "probe", "data": DIR}   what a crash left, changing nothing
        -> {"child": PID}, {"probe": {"orphans": N, "missing": N}}, {"exit": STATUS}

Any command may add "host" and "port" (a Chroma server) and "collection": server mode.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import traceback
from pathlib import Path
from typing import Any

from index.environment import set_env_defaults

set_env_defaults()


def say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def settings(cmd: dict[str, Any], **extra: Any) -> Any:
    """The data dir, and the Chroma server when the command names one (server mode)."""
    from qa import Settings

    server = {"chroma_host": cmd["host"], "chroma_port": int(cmd["port"])} if "port" in cmd else {}
    if "collection" in cmd:
        server["collection"] = cmd["collection"]
    return Settings(data_dir=Path(cmd["data"]), **server, **extra)


def run_ingest(cmd: dict[str, Any], folder: str, batch: int) -> None:
    from qa import Engine

    engine = Engine(
        settings(cmd, embed_batch_size=batch, embed_backend="onnx", embed_precision="fp32")
    )
    report = engine.ingest([folder], progress=lambda done, total, _: say({"p": done, "of": total}))
    say({"report": {k: v for k, v in report.to_dict().items() if k != "files"}})


def dump_state(cmd: dict[str, Any], out: str) -> None:
    """Everything that must agree: docstore rows, BM25 rowids, Chroma ids, metadata, vectors."""
    from qa import Engine

    data = cmd["data"]
    engine = Engine(settings(cmd))
    store = engine.store
    db = sqlite3.connect(Path(data) / "index.sqlite")
    documents = db.execute(
        "SELECT doc_id, path, source, title, format, sha256, size, chars, pages, chunks, text "
        "FROM documents ORDER BY doc_id"
    ).fetchall()
    chunks = db.execute(
        'SELECT chunk_id, doc_id, idx, start, "end", page, text FROM chunks ORDER BY chunk_id'
    ).fetchall()
    chunk_rowids = sorted(r[0] for r in db.execute("SELECT rowid FROM chunks"))
    db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, chunks_fts, 'instance')")
    fts_rowids = sorted(r[0] for r in db.execute("SELECT DISTINCT doc FROM temp.vocab"))
    try:
        db.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
        fts_ok = "ok"
    except sqlite3.DatabaseError as e:
        fts_ok = str(e)
    dirty = db.execute("SELECT value FROM meta WHERE key='dirty'").fetchone()
    ids: list[str] = []
    vectors: dict[str, list[float]] = {}
    metas: dict[str, Any] = {}
    offset = 0
    while True:
        got = store.collection.get(include=["embeddings", "metadatas"], limit=1000, offset=offset)
        ids += got["ids"]
        for i, cid in enumerate(got["ids"]):
            vectors[cid] = [float(x) for x in got["embeddings"][i]]
            metas[cid] = got["metadatas"][i]
        if len(got["ids"]) < 1000:
            break
        offset += 1000
    unreachable: list[str] = []
    if ids:  # the vector index itself (HNSW), not only Chroma's id table, must hold every id:
        # each vector, queried with itself, must come back (a k=N query is no test of an ANN)
        res = store.collection.query(
            query_embeddings=[vectors[i] for i in ids], n_results=min(3, len(ids)), include=[]
        )
        unreachable = [i for i, found in zip(ids, res["ids"], strict=True) if i not in found]
    state = {
        "documents": documents,
        "chunks": chunks,
        "chunk_rowids": chunk_rowids,
        "fts_rowids": fts_rowids,
        "fts_integrity": fts_ok,
        "dirty": dirty[0] if dirty else None,
        "chroma_ids": ids,
        "chroma_count": store.collection.count(),
        "chroma_meta": metas,
        "vectors": vectors,
        "unreachable": unreachable,
    }
    Path(out).write_text(json.dumps(state))


def probe(cmd: dict[str, Any]) -> None:
    """Vectors without a chunk row (orphans) and chunk rows without a vector (missing)."""
    from qa import Engine

    store = Engine(settings(cmd)).store
    chroma = set(store.collection.get(include=[])["ids"])
    rows = {r[0] for r in store._conn().execute("SELECT chunk_id FROM chunks")}
    say({"probe": {"orphans": len(chroma - rows), "missing": len(rows - chroma)}})


def child(cmd: dict[str, Any]) -> None:
    say({"child": os.getpid()})
    code = 0
    try:
        if cmd["op"] == "ingest":
            run_ingest(cmd, cmd["folder"], int(cmd.get("batch", 2)))
        elif cmd["op"] == "dump":
            dump_state(cmd, cmd["out"])
        elif cmd["op"] == "probe":
            probe(cmd)
        else:
            raise ValueError(f"unknown op {cmd['op']}")
    except BaseException as e:
        say({"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()})
        code = 1
    os._exit(code)


def main() -> None:
    from index import embeddings

    # Loaded, never run here: forking after inference can hang torch's thread pool.
    embeddings.get_encoder()
    say({"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        pid = os.fork()
        if pid == 0:
            child(cmd)
        _, status = os.waitpid(pid, 0)
        say({"exit": status})


if __name__ == "__main__":
    main()
