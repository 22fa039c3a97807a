"""The spine against a real Chroma server (`chroma run` on a free loopback port)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa import Engine, StoreUnavailableError

CHROMA = Path(sys.executable).with_name("chroma")
HOST = "127.0.0.1"

pytestmark = pytest.mark.skipif(not CHROMA.exists(), reason="no chroma CLI in this venv")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """A `chroma run` subprocess that can be stopped and started again on the same port."""

    def __init__(self, path: Path) -> None:
        self.path, self.port = path, _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self.proc = subprocess.Popen(
            [CHROMA, "run", "--path", str(self.path), "--host", HOST, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 60
        url = f"http://{HOST}:{self.port}/api/v2/heartbeat"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"chroma server did not start on port {self.port}")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "chroma-server")
    s.start()
    yield s
    s.stop()


def _check_citations(engine: Engine, answer: object) -> None:
    for c in answer.citations:  # type: ignore[attr-defined]
        assert engine.document_text(c.path)[c.start : c.end] == c.quote


def test_ingest_ask_remove_status_on_a_server(server: Server, make_engine, corpus_copy: Path):
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
    server: Server, make_engine, corpus_copy: Path
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
        "QA_CHROMA_PORT": str(_free_port()),
    }
    qa = Path(sys.executable).with_name("qa")
    out = subprocess.run([qa, "ingest", corpus_copy], env=env, capture_output=True, text=True)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and env["QA_CHROMA_PORT"] in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    shutil.rmtree(tmp_path / "data", ignore_errors=True)
