"""The spine against a real Chroma server (`chroma run` on a free loopback port)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.server import ChromaServer, chroma_server, free_port
from qa import Engine, StoreUnavailableError

CHROMA = Path(sys.executable).with_name("chroma")
HOST = "127.0.0.1"

pytestmark = pytest.mark.skipif(not CHROMA.exists(), reason="no chroma CLI in this venv")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChromaServer]:
    with chroma_server(tmp_path / "chroma-server") as s:
        yield s


def _check_citations(engine: Engine, answer: object) -> None:
    for c in answer.citations:  # type: ignore[attr-defined]
        assert engine.document_text(c.path)[c.start : c.end] == c.quote


def test_ingest_ask_remove_status_on_a_server(server: ChromaServer, make_engine, corpus_copy: Path):
    engine = make_engine(chroma_host=HOST, chroma_port=server.port)
    report = engine.ingest([corpus_copy])
    files = sorted(corpus_copy.glob("*.txt"))
    assert report.added == len(files) and not report.failed and report.chunks > 0

    status = engine.status()
    assert status["store"] == "server"
    assert status["documents"] == len(files) and status["chunks"] == report.chunks
    assert engine.store.count_vectors() == report.chunks  # the vectors are on the server

    answer = engine.ask("How many alleged drug traffickers did Mexico extradite?")
    assert answer.answered and answer.citations
    _check_citations(engine, answer)

    again = engine.ingest([corpus_copy])  # idempotent: nothing re-embedded, no duplicates
    assert again.unchanged == len(files) and again.chunks == 0
    assert engine.store.count_vectors() == report.chunks

    removed = engine.remove(files[0])
    assert removed > 0
    assert engine.status()["documents"] == len(files) - 1
    assert engine.store.count_vectors() == report.chunks - removed
    assert all(p.source != files[0].name for p in engine.retrieve("extradited", 20))

    # A second process (the CLI) sees the same server-side index.
    env = {
        **os.environ,
        "QA_DATA_DIR": str(engine.settings.data_dir),
        "QA_CHROMA_HOST": HOST,
        "QA_CHROMA_PORT": str(server.port),
    }
    qa = Path(sys.executable).with_name("qa")
    out = subprocess.run([qa, "status", "--json"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert '"store": "server"' in out.stdout


def test_server_down_is_one_clear_error_and_the_engine_recovers(
    server: ChromaServer, make_engine, corpus_copy: Path
):
    engine = make_engine(chroma_host=HOST, chroma_port=server.port)
    one_file = sorted(corpus_copy.glob("*.txt"))[0]  # one file keeps the test quick
    engine.ingest([one_file])
    question = "How many alleged drug traffickers did Mexico extradite?"
    assert engine.ask(question).citations

    server.stop()
    for call in (lambda: engine.ask(question), lambda: engine.ingest([one_file])):
        with pytest.raises(StoreUnavailableError) as err:
            call()
        message = str(err.value)
        assert f"{HOST}:{server.port}" in message and "\n" not in message

    server.start()  # same data, same port: the same Engine carries on without a restart
    answer = engine.ask(question)
    assert answer.answered and answer.citations
    _check_citations(engine, answer)


def test_server_that_never_ran_is_a_clear_cli_error(tmp_path: Path, corpus_copy: Path):
    env = {
        **os.environ,
        "QA_DATA_DIR": str(tmp_path / "data"),
        "QA_CHROMA_HOST": HOST,
        "QA_CHROMA_PORT": str(free_port()),
    }
    qa = Path(sys.executable).with_name("qa")
    out = subprocess.run([qa, "ingest", corpus_copy], env=env, capture_output=True, text=True)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and env["QA_CHROMA_PORT"] in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


@pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # its pandas ETA stats
def test_the_ui_runs_on_a_server(server: ChromaServer, tmp_path: Path, corpus_copy: Path):
    """Upload, ask, delete through the real Gradio app, vectors on the Chroma server."""
    from gradio_client import Client, handle_file

    from tests.test_ui import serve, stop

    served = serve(tmp_path / "ui-data", [], chroma_host=HOST, chroma_port=server.port)
    try:
        client = Client(served.url, verbose=False)
        doc = sorted(corpus_copy.glob("*.txt"))[0]
        client.predict([handle_file(doc)], api_name="/upload")
        assert served.engine.status()["store"] == "server"
        assert served.engine.store.count_vectors() == served.engine.status()["chunks"] > 0
        question = "How many alleged drug traffickers did Mexico extradite?"
        out = json.loads(client.predict(question, api_name="/ask"))
        assert out["answered"] and out["citations"]
        for c in out["citations"]:
            assert served.engine.document_text(c["path"])[c["start"] : c["end"]] == c["quote"]
        stored = served.engine.settings.data_dir / "uploads" / doc.name
        client.predict(str(stored), api_name="/delete")
        assert served.engine.store.count_vectors() == 0
    finally:
        stop(served)
