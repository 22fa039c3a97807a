"""kill -9 during ingest, at random points: the next ingest repairs, nothing is lost or doubled.

Each trial kills real ingest processes (forked from tests/crash_worker.py, which loads the model
once) at seeded random points: before any write, in the middle of a batch (while the cache's
`dirty` flag is up, i.e. chunks written to Chroma, their document records and the local cache
not yet), during the removals at the end. Then an ingest runs to completion and the index is
dumped and checked:

* the cache (SQLite documents and chunks), Chroma (ids, metadata, the HNSW index) and BM25
  (FTS5 rowids) agree exactly: the same chunk ids, no duplicate, no orphan;
* the state equals a clean ingest of the same folder into a fresh data dir, vectors included.

The default run does a short version; `make soak` runs the long one (marked slow).
Two ingests at once on one data dir are here too: the second is refused with a clear message.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from qa import Engine, IndexBusyError, Settings

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WORDS = (
    "harbour lighthouse keeper storm ledger barley mill river bridge tram otter heron kiln "
    "orchard ferry station signal lantern valley council market winter summer village engineer "
    "mayor school archive railway canal quarry festival granary foundry chapel beacon meadow"
).split()


# ---- a folder of documents, and changes to it -------------------------------------------------
def sentence(rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 9)))
    return f"The {words} was noted in {rng.randint(1800, 2024)} by clerk {rng.randint(1, 99999)}."


def document(rng: random.Random, *, long: bool = False) -> str:
    """Mostly a sentence or two (cheap to embed); a long one spans several chunks."""
    n = rng.randint(14, 20) if long else rng.choice([1, 1, 2, 2, 3])
    return "\n".join(sentence(rng) for _ in range(n)) + "\n"


def write_corpus(folder: Path, n: int, rng: random.Random) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        suffix = ".md" if i % 7 == 3 else ".txt"
        (folder / f"doc{i:03d}{suffix}").write_text(document(rng, long=i % 20 == 7))


def mutate(folder: Path, rng: random.Random) -> str:
    """Edit, delete, add and rename a few files: work for an incremental ingest to do."""
    files = sorted(folder.iterdir())
    picked = rng.sample(files, k=min(len(files), 12))
    edits, deletes, renames = picked[:6], picked[6:9], picked[9:10]
    for f in edits:
        f.write_text(f.read_text() + sentence(rng) + "\n")
    for f in deletes:
        f.unlink()
    for f in renames:
        f.rename(f.with_name(f"renamed-{f.name}"))
    for i in range(4):
        (folder / f"new{rng.randint(0, 10**6):07d}-{i}.txt").write_text(document(rng))
    return f"{len(edits)} edited, {len(deletes)} deleted, {len(renames)} renamed, 4 added"


# ---- the fork server ---------------------------------------------------------------------------
@dataclass
class Run:
    killed: bool = False
    kill_point: str = ""
    progress: int = 0
    total: int = 0
    report: dict[str, Any] | None = None
    error: str | None = None
    status: int | None = None
    dirty_at_kill: bool = False
    probe: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Kill:
    """Where to kill: after `after` files (0: before the first) plus `delay` seconds, or, when
    `mid_write`, `delay` seconds after the store raises its dirty flag (a batch is being
    written: chunks, records, old chunks deleted, then the cache), or, when `after_chroma`,
    as soon as Chroma's write-ahead log grows while the flag is up (chunks written, their
    records not yet: the window a repair exists for)."""

    after: int = 0
    delay: float = 0.0
    mid_write: bool = False
    after_chroma: bool = False
    # Chroma's progress, when it is not the embedded store's own file (server mode: the
    # server's chunk count over HTTP); it grows with each chunk upsert, as the log does
    chroma_progress: Callable[[], int] | None = None

    @property
    def polls(self) -> bool:
        return self.mid_write or self.after_chroma

    def describe(self) -> str:
        if self.after_chroma:
            return "after the chunks reached Chroma, before their records"
        if self.mid_write:
            return f"mid-write (dirty flag up + {self.delay * 1000:.0f} ms)"
        return f"after file {self.after} + {self.delay * 1000:.0f} ms"


class Worker:
    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [PYTHON, "-u", str(ROOT / "tests" / "crash_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        msg = self.next(180)
        assert msg.get("ready"), msg

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.lines.put(json.loads(line))
        self.lines.put(None)

    def next(self, timeout: float = 300) -> dict[str, Any]:
        msg = self.lines.get(timeout=timeout)
        if msg is None:
            raise RuntimeError("the crash worker died")
        return msg

    def run(self, cmd: dict[str, Any], kill: Kill | None = None) -> Run:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        run = Run(kill_point=kill.describe() if kill else "")
        pid = 0
        dbs: dict[str, sqlite3.Connection | None] = {}
        armed: int | None = None  # Chroma's log position when the dirty flag was seen rising
        while True:
            try:
                msg = self.next(0.001 if kill and kill.polls and not run.killed else 300)
            except queue.Empty:
                msg = {}
            if "child" in msg:
                pid = msg["child"]
                if kill and not kill.polls and kill.after == 0:
                    run.killed = self._kill(pid, kill.delay, cmd["data"], run)
            elif "p" in msg:
                run.progress, run.total = msg["p"], msg["of"]
                if kill and not run.killed and not kill.polls and 0 < kill.after <= msg["p"]:
                    run.killed = self._kill(pid, kill.delay, cmd["data"], run)
            elif "report" in msg:
                run.report = msg["report"]
            elif "probe" in msg:
                run.probe = msg["probe"]
            elif "error" in msg:
                run.error = msg["error"] + "\n" + msg.get("trace", "")
            elif "exit" in msg:
                run.status = msg["exit"]
                for db in dbs.values():
                    if db is not None:
                        db.close()
                return run
            if not (kill and kill.polls and run.progress and not run.killed):
                continue
            data = Path(cmd["data"])
            if dbs.get("index") is None:
                dbs["index"] = _open_ro(data / "index.sqlite")
            if dbs.get("chroma") is None and kill.chroma_progress is None:
                dbs["chroma"] = _open_ro(data / "chroma" / "chroma.sqlite3")
            index_db, chroma_db = dbs["index"], dbs.get("chroma")
            if index_db is None or not _dirty(index_db):
                armed = None
            elif kill.mid_write:
                run.killed = self._kill(pid, kill.delay, cmd["data"], run)
            elif chroma_db is not None or kill.chroma_progress is not None:
                if kill.chroma_progress is not None:
                    seq = kill.chroma_progress()
                else:
                    assert chroma_db is not None
                    seq = _chroma_log(chroma_db)
                if armed is None:
                    armed = seq
                elif seq > armed:
                    run.killed = self._kill(pid, 0, cmd["data"], run)

    @staticmethod
    def _kill(pid: int, delay: float, data: str, run: Run) -> bool:
        if delay:
            time.sleep(delay)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # it finished first
            return False
        db = _open_ro(Path(data) / "index.sqlite")
        if db is not None:
            run.dirty_at_kill = _dirty(db)
            db.close()
        return True

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _open_ro(path: Path) -> sqlite3.Connection | None:
    if not path.exists():
        return None
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None


def _dirty(db: sqlite3.Connection) -> bool:
    try:
        row = db.execute("SELECT value FROM meta WHERE key='dirty'").fetchone()
    except sqlite3.Error:
        return False
    return bool(row and row[0] == "1")


def _chroma_log(db: sqlite3.Connection) -> int:
    """The last sequence number of Chroma's write-ahead log (grows with each add/delete)."""
    try:
        row = db.execute("SELECT max(seq_id) FROM embeddings_queue").fetchone()
    except sqlite3.Error:
        return -1
    return int(row[0] or 0)


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    w = Worker()
    yield w
    w.close()


# ---- the checks --------------------------------------------------------------------------------
def dump(
    worker: Worker, data: Path, out: Path, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The index's full state; `extra` names a Chroma server or collection (crash_worker)."""
    run = worker.run({"op": "dump", "data": str(data), "out": str(out), **(extra or {})})
    assert run.status == 0 and run.error is None, run.error
    state: dict[str, Any] = json.loads(out.read_text())
    return state


def assert_consistent(state: dict[str, Any]) -> None:
    """Docstore, BM25 and Chroma agree exactly: same ids, no duplicate, no orphan."""
    chunk_ids = [c[0] for c in state["chunks"]]
    assert len(chunk_ids) == len(set(chunk_ids))
    ids = state["chroma_ids"]
    assert len(ids) == len(set(ids)), "duplicate ids in Chroma"
    orphans = set(ids) - set(chunk_ids)
    missing = set(chunk_ids) - set(ids)
    assert not orphans and not missing, f"{len(orphans)} orphan vectors, {len(missing)} missing"
    assert state["chroma_count"] == len(chunk_ids)
    assert not state["unreachable"], f"the HNSW index cannot find {state['unreachable']}"
    assert state["fts_rowids"] == state["chunk_rowids"], "BM25 and the docstore disagree"
    assert state["fts_integrity"] == "ok", state["fts_integrity"]
    assert state["dirty"] == "0"
    docs = {d[0]: d for d in state["documents"]}
    per_doc: dict[str, int] = {}
    for cid, doc_id, _idx, start, end, _page, text in state["chunks"]:
        assert doc_id in docs, f"chunk {cid} of no document"
        assert docs[doc_id][-1][start:end] == text  # the offset invariant
        assert state["chroma_meta"][cid]["doc_id"] == doc_id
        per_doc[doc_id] = per_doc.get(doc_id, 0) + 1
    assert per_doc == {d: row[9] for d, row in docs.items()}


def assert_same(repaired: dict[str, Any], clean: dict[str, Any]) -> None:
    """The repaired index equals a clean ingest of the same files, vectors included."""
    assert repaired["documents"] == clean["documents"]
    assert repaired["chunks"] == clean["chunks"]
    assert sorted(repaired["chroma_ids"]) == sorted(clean["chroma_ids"])
    worst = 0.0
    for cid, vec in clean["vectors"].items():
        other = repaired["vectors"][cid]
        worst = max(worst, max(abs(a - b) for a, b in zip(vec, other, strict=True)))
    assert worst < 1e-4, f"a repaired vector differs from a clean one by {worst}"


# ---- the trials --------------------------------------------------------------------------------
@dataclass
class Trials:
    kills: int = 0
    mid_write: int = 0
    out_of_sync: int = 0  # kills that left Chroma and SQLite holding different ids
    repaired: int = 0
    log: list[str] = field(default_factory=list)


def run_trials(
    worker: Worker, tmp: Path, *, seed: int, trials: int, kills: int, files: int
) -> Trials:
    rng = random.Random(seed)
    folder = tmp / "docs"
    data = tmp / "data"
    write_corpus(folder, files, rng)
    out = Trials()
    for t in range(trials):
        change = "initial ingest" if t == 0 else mutate(folder, rng)
        n = len(list(folder.iterdir()))
        for k in range(kills):
            roll = rng.random()
            if k == 0 or roll < 0.3:
                kill = Kill(after_chroma=True)
            elif roll < 0.45:
                kill = Kill(mid_write=True, delay=rng.choice([0.0, rng.uniform(0, 0.03)]))
            elif roll < 0.6:
                kill = Kill(after=0, delay=rng.uniform(0, 1.5))  # while opening or repairing
            else:
                kill = Kill(after=rng.randint(1, n), delay=rng.uniform(0, 0.3))
            run = worker.run(
                {"op": "ingest", "data": str(data), "folder": str(folder), "batch": 2}, kill
            )
            assert run.error is None, run.error
            out.kills += run.killed
            out.mid_write += run.dirty_at_kill
            left = worker.run({"op": "probe", "data": str(data)}).probe
            out.out_of_sync += bool(left.get("orphans") or left.get("missing"))
            out.log.append(
                f"trial {t} ({change}): kill {kill.describe()} at file "
                f"{run.progress}/{run.total}: {'killed' if run.killed else 'finished first'}"
                f"{', dirty' if run.dirty_at_kill else ''}; left {left}"
            )
        final = worker.run({"op": "ingest", "data": str(data), "folder": str(folder), "batch": 16})
        assert final.status == 0 and final.error is None, final.error
        assert final.report is not None and final.report["failed"] == []
        out.repaired += final.report["repaired"]
        clean_dir = tmp / f"clean{t}"
        clean = worker.run(
            {"op": "ingest", "data": str(clean_dir), "folder": str(folder), "batch": 16}
        )
        assert clean.status == 0 and clean.error is None, clean.error
        repaired_state = dump(worker, data, tmp / f"repaired{t}.json")
        clean_state = dump(worker, clean_dir, tmp / f"clean{t}.json")
        assert_consistent(repaired_state)
        assert_consistent(clean_state)
        assert_same(repaired_state, clean_state)
        assert len(repaired_state["documents"]) == n
        again = worker.run({"op": "ingest", "data": str(data), "folder": str(folder)})
        assert again.report is not None
        assert (again.report["added"], again.report["updated"], again.report["removed"]) == (
            0,
            0,
            0,
        )
        assert again.report["repaired"] == 0
    return out


def test_kill_9_during_ingest_short(worker: Worker, tmp_path: Path) -> None:
    out = run_trials(worker, tmp_path, seed=8, trials=2, kills=2, files=40)
    print("\n".join(out.log))
    print(
        f"{out.kills} kills, {out.mid_write} left the index dirty, "
        f"{out.out_of_sync} left Chroma and SQLite apart, {out.repaired} repaired at the end"
    )
    assert out.kills >= 2
    assert out.mid_write >= 1  # at least one kill left a batch half written
    assert out.out_of_sync >= 1  # ... with Chroma ahead of SQLite: the repair path ran


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_during_ingest_soak(worker: Worker, tmp_path: Path, seed: int) -> None:
    out = run_trials(worker, tmp_path, seed=seed, trials=6, kills=4, files=150)
    print("\n".join(out.log))
    print(
        f"seed {seed}: {out.kills} kills, {out.mid_write} left the index dirty, "
        f"{out.out_of_sync} left Chroma and SQLite apart, {out.repaired} repaired at the end"
    )
    assert out.kills >= 12
    assert out.mid_write >= 6
    assert out.out_of_sync >= 1  # the repair path was really exercised


# ---- two ingests at once -------------------------------------------------------------------------
def qa_env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(QA_DATA_DIR=str(data), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def test_two_cli_ingests_at_once_one_is_refused_cleanly(worker: Worker, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_corpus(folder, 20, random.Random(5))
    data = tmp_path / "data"
    data.mkdir()
    qa = str(ROOT / ".venv" / "bin" / "qa")
    procs = [
        subprocess.Popen(
            [qa, "ingest", "--json", str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=qa_env(data),
            cwd=tmp_path,
        )
        for _ in range(2)
    ]
    results = [(*p.communicate(timeout=300), p.returncode) for p in procs]
    codes = sorted(r[2] for r in results)
    assert codes == [0, 1], results
    refused = next(r for r in results if r[2] == 1)
    assert json.loads(refused[1]) == {  # with --json, the error is one JSON object
        "error": f"another ingest is running on {data}; wait for it to finish",
        "exit_code": 1,
    }
    winner = next(r for r in results if r[2] == 0)
    assert json.loads(winner[0])["added"] == 20
    state = dump(worker, data, tmp_path / "state.json")
    assert_consistent(state)
    assert len(state["documents"]) == 20


def test_an_ingest_while_another_holds_the_lock_raises_index_busy(
    worker: Worker, tmp_path: Path
) -> None:
    """In-process callers (the UI) get IndexBusyError; the holder finishes and nothing breaks."""
    folder = tmp_path / "docs"
    write_corpus(folder, 20, random.Random(6))
    data = tmp_path / "data"
    data.mkdir()
    lock = open(data / "ingest.lock", "a+")  # noqa: SIM115 - held across the calls below
    fcntl.flock(lock, fcntl.LOCK_EX)  # what a running ingest in another process holds
    engine = Engine(Settings(data_dir=data))
    try:
        with pytest.raises(IndexBusyError, match="another ingest is running"):
            engine.ingest([folder])
        res = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "qa"), "ingest", str(folder)],
            capture_output=True,
            text=True,
            env=qa_env(data),
            cwd=tmp_path,
            timeout=120,
        )
        assert res.returncode == 1
        assert res.stderr.strip().splitlines() == [
            f"error: another ingest is running on {data}; wait for it to finish"
        ]
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        engine.close()
    run = worker.run({"op": "ingest", "data": str(data), "folder": str(folder)})
    assert run.report is not None and run.report["added"] == 20
    assert_consistent(dump(worker, data, tmp_path / "state.json"))


# ---- crashes simulated in-process at exact points ----------------------------------------------
class SimulatedCrash(Exception):
    pass


def test_crash_before_the_record_commit_then_file_gone_leaves_no_orphan(
    make_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update dies after its new chunks reached Chroma, before the document record (the
    commit point): readers keep the old version whole, and the next ingest deletes the new
    chunks even if the file is gone by then (nothing will re-ingest and overwrite them)."""
    from index.chroma_store import ChromaStore

    d = tmp_path / "docs"
    d.mkdir()
    rng = random.Random(11)
    head = "\n".join(sentence(rng) for _ in range(16))
    (d / "long.txt").write_text(head + "\n" + "\n".join(sentence(rng) for _ in range(16)))
    (d / "other.txt").write_text("The other file: the ferry leaves at nine.\n")
    engine = make_engine()
    assert engine.ingest([d]).added == 2
    before = {s.source: s.chunks for s in engine.sources()}
    assert before["long.txt"] > 2
    old_text = engine.document_text(d / "long.txt")
    (d / "long.txt").write_text(head + "\n" + "\n".join(sentence(rng) for _ in range(16)))

    def crash(*args: object) -> None:
        raise SimulatedCrash

    with monkeypatch.context() as m:
        m.setattr(ChromaStore, "put_records", crash)  # after the chunks, before the records
        with pytest.raises(SimulatedCrash):
            engine.ingest([d])
    assert vector_ids(engine.store) != chunk_ids(engine.store)  # chunks no record names
    data = engine.settings.data_dir
    engine.close()
    for f in data.glob("index.sqlite*"):  # the cache goes: rebuilt from Chroma alone
        f.unlink()
    engine = make_engine(data_dir=data)
    assert {s.source: s.chunks for s in engine.sources()} == before  # the old version, whole
    assert engine.document_text(d / "long.txt") == old_text
    store = engine.store
    (d / "long.txt").unlink()
    report = engine.ingest([d])
    assert report.repaired >= 1
    assert [s.source for s in engine.sources()] == ["other.txt"]
    assert vector_ids(store) == chunk_ids(store)  # no orphan left behind
    assert len(chunk_ids(store)) == 1


def vector_ids(store: Any) -> set[str]:
    return set(store.collection.get(include=[])["ids"])


def chunk_ids(store: Any) -> set[str]:
    return {r[0] for r in store._conn().execute("SELECT chunk_id FROM chunks")}


def test_kill_9_of_a_real_qa_ingest_process_mid_write(worker: Worker, tmp_path: Path) -> None:
    """The same, with the `qa` command itself: killed while a batch is half written."""
    folder = tmp_path / "docs"
    write_corpus(folder, 30, random.Random(9))
    data = tmp_path / "data"
    data.mkdir()
    env = qa_env(data) | {"QA_EMBED_BATCH_SIZE": "1"}  # a write every 32 chunks
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "qa"), "ingest", "--json", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    db = None
    deadline = time.monotonic() + 240
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            db = db or _open_ro(data / "index.sqlite")
            if (
                db is not None
                and _dirty(db)
                and db.execute("SELECT count(*) FROM documents").fetchone()[0]
            ):
                break  # a batch is being written after at least one committed
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL, "qa ingest finished before the kill"
    finally:
        if proc.poll() is None:
            proc.kill()
        if db is not None:
            db.close()
    run = worker.run({"op": "ingest", "data": str(data), "folder": str(folder)})
    assert run.status == 0 and run.report is not None, run.error
    report = run.report
    assert report["added"] + report["unchanged"] == 30 and report["failed"] == []
    state = dump(worker, data, tmp_path / "state.json")
    assert_consistent(state)
    clean = worker.run({"op": "ingest", "data": str(tmp_path / "clean"), "folder": str(folder)})
    assert clean.status == 0, clean.error
    assert_same(state, dump(worker, tmp_path / "clean", tmp_path / "clean.json"))


OPEN_STORE = """
import sys
from pathlib import Path
from index.store import Store
Store(Path(sys.argv[1]), "corpus", {"test": 1}).documents()
"""


def test_processes_opening_a_fresh_data_dir_at_once(tmp_path: Path) -> None:
    """Switching a new SQLite file to WAL races, and SQLite says "database is locked" without
    waiting: two `qa ingest` started together on a new data dir used to crash on it."""
    for round_ in range(5):
        data = tmp_path / f"data{round_}"
        data.mkdir()
        procs = [
            subprocess.Popen(
                [PYTHON, "-c", OPEN_STORE, str(data)],
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
            )
            for _ in range(4)
        ]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
