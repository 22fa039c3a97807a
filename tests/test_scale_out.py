"""Many app instances, one Chroma server (`chroma run`): Chroma holds everything, each
instance's data dir is only a cache.

Instance A and instance B have separate QA_DATA_DIRs and share one server: what A ingests B
answers from, with exact quotes; what A removes B forgets within its sync interval; two
writers at once are told apart by the lease; a writer killed with SIGKILL leaves nothing B
would cite, and the next ingest repairs; a deleted cache is rebuilt with identical answers.
Waits poll with a generous timeout; nothing here times anything.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bench.server import ChromaServer, chroma_server, free_port
from qa import Engine, IndexBusyError
from tests.test_reliability_crash import (
    Kill,
    Worker,
    assert_consistent,
    assert_same,
    dump,
    mutate,
    write_corpus,
)

CHROMA = Path(sys.executable).with_name("chroma")
HOST = "127.0.0.1"
QUESTION = "How many alleged drug traffickers did Mexico extradite?"
QUESTIONS = [QUESTION, "Who is Rafael Caro Quintero?", "What did the tariffs threaten?"]

pytestmark = pytest.mark.skipif(not CHROMA.exists(), reason="no chroma CLI in this venv")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChromaServer]:
    with chroma_server(tmp_path / "chroma-server") as s:
        yield s


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    w = Worker()
    yield w
    w.close()


def instance(make_engine: Callable[..., Engine], server: ChromaServer, data: Path) -> Engine:
    return make_engine(data_dir=data, chroma_host=HOST, chroma_port=server.port)


def wait_for(check: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def quotes_are_exact(answer: Any, corpus: Path) -> None:
    """Each quote is the file's own text at its offsets (.txt: the file decoded, unchanged)."""
    assert answer.citations
    for c in answer.citations:
        text = (corpus / c.source).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.quote


def test_a_ingests_b_answers_a_removes_b_forgets(
    make_engine: Callable[..., Engine], server: ChromaServer, corpus_copy: Path, tmp_path: Path
) -> None:
    a = instance(make_engine, server, tmp_path / "a")
    b = instance(make_engine, server, tmp_path / "b")
    assert b.status()["documents"] == 0
    assert not b.ask(QUESTION).answered

    report = a.ingest([corpus_copy])
    assert wait_for(lambda: b.status()["documents"] == report.added), b.status()
    assert b.status()["chunks"] == report.chunks
    answer = b.ask(QUESTION)
    assert answer.answered and "29" in answer.text
    quotes_are_exact(answer, corpus_copy)
    mine = a.ask(QUESTION)
    assert (answer.text, answer.citations) == (mine.text, mine.citations)

    victim = corpus_copy / answer.citations[0].source
    removed = a.remove(victim)
    assert removed > 0
    assert wait_for(lambda: b.status()["documents"] == report.added - 1)
    assert b.status()["chunks"] == report.chunks - removed
    assert all(p.source != victim.name for p in b.retrieve("extradited drug traffickers", 30))
    assert all(c.source != victim.name for c in b.ask(QUESTION).citations)


def test_two_writers_at_once_one_is_told_it_is_busy(
    make_engine: Callable[..., Engine], server: ChromaServer, corpus_copy: Path, tmp_path: Path
) -> None:
    a = instance(make_engine, server, tmp_path / "a")
    b = instance(make_engine, server, tmp_path / "b")
    start = threading.Barrier(2)
    results: dict[str, Any] = {}

    def run(name: str, engine: Engine) -> None:
        start.wait()
        try:
            results[name] = engine.ingest([corpus_copy])
        except IndexBusyError as e:
            results[name] = e

    threads = [threading.Thread(target=run, args=(n, e)) for n, e in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    busy = [r for r in results.values() if isinstance(r, IndexBusyError)]
    done = [r for r in results.values() if not isinstance(r, IndexBusyError)]
    assert len(busy) == 1 and len(done) == 1, results
    assert "another ingest is running" in str(busy[0]) and "\n" not in str(busy[0])
    assert done[0].added == 3 and not done[0].failed
    for engine in (a, b):  # both see the one complete index
        assert wait_for(partial(_documents_are, engine, 3))
        assert engine.status()["chunks"] == engine.store.count_vectors() == done[0].chunks


def test_a_lease_held_elsewhere_refuses_then_expires(
    make_engine: Callable[..., Engine], server: ChromaServer, corpus_copy: Path, tmp_path: Path
) -> None:
    """A writer on another machine holds the lease (a record in Chroma): B and the CLI are
    told the index is busy; once that writer stops renewing, its lease expires and B writes."""
    b = instance(make_engine, server, tmp_path / "b")
    one = sorted(corpus_copy.glob("*.txt"))[0]

    def hold(seconds: float) -> None:  # what the other machine's renewals write
        meta = {
            "host": "another-machine",
            "pid": 1,
            "state": "held",
            "expires": time.time() + seconds,
            "since": 0,
        }
        lease = b.store.chroma
        lease.call("lease", "upsert", ids=["elsewhere"], embeddings=[[1.0]], metadatas=[meta])

    hold(600)
    with pytest.raises(IndexBusyError, match="another ingest is running"):
        b.ingest([one])
    env = {
        **os.environ,
        "QA_DATA_DIR": str(tmp_path / "cli"),
        "QA_CHROMA_HOST": HOST,
        "QA_CHROMA_PORT": str(server.port),
    }
    qa = Path(sys.executable).with_name("qa")
    out = subprocess.run([qa, "ingest", one], env=env, capture_output=True, text=True)
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "another ingest is running" in lines[0], out.stderr
    hold(1)  # its last renewal: it dies now, and nothing renews the lease again
    time.sleep(1.5)
    report = b.ingest([one])
    assert report.added == 1
    left = b.store.chroma.call("lease", "get", include=[])["ids"]
    assert left == []  # the expired record was cleared and B released its own


def test_kill_9_mid_ingest_b_never_cites_a_half_ingested_document(
    worker: Worker, make_engine: Callable[..., Engine], server: ChromaServer, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    rng = random.Random(21)
    write_corpus(folder, 60, rng)
    a_data, clean_data = tmp_path / "a", tmp_path / "clean"
    on_server = {"host": HOST, "port": server.port}
    b = instance(make_engine, server, tmp_path / "b")

    def unnamed() -> int:  # chunks in Chroma that no document record names (yet)
        return b.store.count_vectors() - sum(
            r.chunks for r in b.store.chroma.record_heads().values()
        )

    left: dict[str, int] = {}
    for attempt in range(8):  # until a kill lands between a batch's chunks and its records
        if attempt:
            mutate(folder, rng)
        cmd = {"op": "ingest", "data": str(a_data), "folder": str(folder), "batch": 2}
        run = worker.run({**cmd, **on_server}, Kill(after_chroma=True, chroma_progress=unnamed))
        assert run.error is None, run.error
        b.store.sync()
        committed = b.store.chroma.record_heads()
        for info in b.sources():  # every document B has is whole: its record and all its chunks
            assert info.doc_id in committed and info.chunks == committed[info.doc_id].chunks
            text = b.document_text(info.path)
            rows = b.store.chunks(b.store.chunk_ids(info.doc_id))
            assert len(rows) == info.chunks
            assert all(text[r.start : r.end] == r.text for r in rows.values())
        paths = {i.path for i in b.sources()}
        assert all(p.path in paths for p in b.retrieve("harbour lighthouse keeper ledger", 50))
        left = worker.run({"op": "probe", "data": str(a_data), **on_server}).probe
        if run.killed and left.get("orphans"):
            break
    assert left.get("orphans"), left  # a kill left chunks ahead of their records

    final = worker.run({"op": "ingest", "data": str(a_data), "folder": str(folder), **on_server})
    assert final.status == 0 and final.report is not None, final.error
    assert final.report["repaired"] >= 1 and final.report["failed"] == []
    clean = worker.run(
        {"op": "ingest", "data": str(clean_data), "folder": str(folder), "collection": "clean"}
    )
    assert clean.status == 0, clean.error
    repaired = dump(worker, a_data, tmp_path / "a.json", on_server)
    assert_consistent(repaired)
    assert_same(
        repaired, dump(worker, clean_data, tmp_path / "clean.json", {"collection": "clean"})
    )
    n = len(list(folder.iterdir()))
    assert len(repaired["documents"]) == n
    assert wait_for(lambda: len(b.sources()) == n)


def test_a_deleted_cache_is_rebuilt_with_identical_answers(
    make_engine: Callable[..., Engine], server: ChromaServer, corpus_copy: Path, tmp_path: Path
) -> None:
    a = instance(make_engine, server, tmp_path / "a")
    a.ingest([corpus_copy])
    b = instance(make_engine, server, tmp_path / "b")
    before = [b.ask(q) for q in QUESTIONS]
    sources = b.sources()
    b.close()
    shutil.rmtree(tmp_path / "b")
    fresh = instance(make_engine, server, tmp_path / "b")
    assert fresh.sources() == sources
    after = [fresh.ask(q) for q in QUESTIONS]
    for x, y in zip(before, after, strict=True):
        assert (x.text, x.answered, x.citations, x.short) == (
            y.text,
            y.answered,
            y.citations,
            y.short,
        )
    quotes_are_exact(after[0], corpus_copy)


def test_a_deleted_cache_in_embedded_mode_loses_nothing(make_engine, corpus_copy: Path, tmp_path):
    engine = make_engine(data_dir=tmp_path / "e")
    report = engine.ingest([corpus_copy])
    before = engine.ask(QUESTION)
    engine.close()
    for f in (tmp_path / "e").glob("index.sqlite*"):
        f.unlink()
    again = make_engine(data_dir=tmp_path / "e")
    assert again.status()["chunks"] == report.chunks
    after = again.ask(QUESTION)
    assert (after.text, after.citations) == (before.text, before.citations)
    assert again.ingest([corpus_copy]).unchanged == 3  # nothing re-embedded


# ---- B as a UI process ---------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_ui_process_as_b_follows_a(
    make_engine: Callable[..., Engine], server: ChromaServer, corpus_copy: Path, tmp_path: Path
) -> None:
    from gradio_client import Client

    a = instance(make_engine, server, tmp_path / "a")
    port = free_port()
    env = {
        **os.environ,
        "QA_DATA_DIR": str(tmp_path / "ui"),
        "QA_CHROMA_HOST": HOST,
        "QA_CHROMA_PORT": str(server.port),
    }
    qa = Path(sys.executable).with_name("qa")
    ui = subprocess.Popen(
        [qa, "ui", "--host", HOST, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = wait_for(lambda: _client(Client, f"http://{HOST}:{port}/", ui), timeout=300)
        assert client is not None, "the UI did not start"

        def ask() -> dict[str, Any]:
            return dict(json.loads(client.predict(QUESTION, api_name="/ask")))

        assert not ask()["answered"]
        a.ingest([corpus_copy])
        out = wait_for(lambda: (lambda o: o if o["answered"] else None)(ask()))
        assert out and "29" in out["answer"], out
        for c in out["citations"]:
            text = (corpus_copy / c["source"]).read_text(encoding="utf-8")
            assert text[c["start"] : c["end"]] == c["quote"]
        victim = out["citations"][0]["source"]
        a.remove(corpus_copy / victim)
        gone = wait_for(lambda: all(c["source"] != victim for c in ask()["citations"]))
        assert gone
    finally:
        ui.terminate()
        try:
            ui.wait(30)
        except subprocess.TimeoutExpired:
            ui.kill()
            ui.wait()


def _documents_are(engine: Engine, n: int) -> bool:
    return bool(engine.status()["documents"] == n)


def _client(client_cls: Any, url: str, proc: subprocess.Popen[bytes]) -> Any:
    if proc.poll() is not None:
        raise RuntimeError(f"the UI process exited with {proc.returncode}")
    try:
        return client_cls(url, verbose=False)
    except Exception:
        return None
