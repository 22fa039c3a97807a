"""Hostile files cost themselves only: each is refused with a reason naming the limit it hit.

Real files made here (tests/hostile_files.py): a DOCX bomb, deeply nested HTML, a 200 MB HTML
file, a PDF whose one stream inflates to 200 MB; and parsers made to hang,
blow up their memory or crash, through the loader seam `index.ingest.load` (the worker is
forked from this process, so it runs the patched loader). Good files beside them go in, and
nothing of a refused file reaches the index. Timings are figures for bench/hostile.py; the
tests only use a generous parse timeout.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index import IngestReport, LimitError, Limits
from index.limits import check_chunks, check_expansion, check_html_depth, check_text
from qa import Engine, Settings
from tests.hostile_files import (
    big_html,
    docx_bomb,
    docx_bytes,
    nested_html,
    pdf_stream_bomb,
    repetitive_html,
)
from tests.test_reliability_files import pdf_bytes

ingest_module = importlib.import_module("index.ingest")
QA = [str(Path(sys.executable).parent / "qa")]  # the venv's entry point
TIMEOUT = 5.0  # seconds: generous for these files, and what the hanging one is stopped by

GOOD = {
    "good.txt": "The Brackwater lighthouse was built in 1871 by the engineer Ada Pellow.\n",
    "good.md": "# Otters\n\nSea otters in Morro Bay use rocks as tools to open clams.\n",
}
# name -> words the one-line reason must hold (the setting that raises the limit)
HOSTILE = {
    "bomb.docx": "QA_MAX_ZIP_RATIO",
    "nested.html": "QA_MAX_HTML_DEPTH",
    "huge.html": "over the 50 MB limit (QA_MAX_FILE_MB)",
    "stream_bomb.pdf": "QA_PARSE_MEMORY_MB",  # PDFium aborts at the worker's memory ceiling
    "a_hang.txt": f"longer than {TIMEOUT:g} s (QA_PARSE_TIMEOUT)",
    "b_greedy.txt": "QA_PARSE_MEMORY_MB",
    "c_crash.txt": "the parser crashed (SIGSEGV)",
}


def misbehaving_load(real):  # type: ignore[no-untyped-def]
    """The real loader, except for files named to hang, eat memory or crash."""

    def load(path: Path, **kw: object):  # type: ignore[no-untyped-def]
        if "hang" in path.name:
            while True:
                time.sleep(1)
        if "greedy" in path.name:
            hoard = []
            while True:  # grows until the worker's memory ceiling stops it
                hoard.append(bytearray(2**24))
        if "crash" in path.name:
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(path, **kw)

    return load


def build(d: Path) -> None:
    d.mkdir()
    for name, text in GOOD.items():
        (d / name).write_text(text)
    (d / "good.docx").write_bytes(docx_bytes("The Quillon ferry leaves the harbour at nine."))
    (d / "good.pdf").write_bytes(pdf_bytes("The Ferndale mill ground eleven tonnes of barley."))
    repetitive_html(d / "repetitive.html")  # a few KB that repeats itself: an ordinary page
    docx_bomb(d / "bomb.docx", text_mb=20)  # ~130 KB on disk, 24 MB of document.xml
    nested_html(d / "nested.html", depth=100_000)  # 1.1 MB
    big_html(d / "huge.html", mb=200)
    pdf_stream_bomb(d / "stream_bomb.pdf", stream_mb=200)  # ~200 KB on disk
    for name in ("a_hang.txt", "b_greedy.txt", "c_crash.txt"):
        (d / name).write_text(f"{name} would be fine, if its parser behaved.\n")


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Engine, Path, IngestReport]]:
    d = tmp_path_factory.mktemp("hostile") / "docs"
    build(d)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("hostile-data"),
        parse_timeout=TIMEOUT,
        parse_memory_mb=256,
    )
    engine = Engine(settings)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest_module, "load", misbehaving_load(ingest_module.load))
        report = engine.ingest([d])
    yield engine, d, report
    engine.close()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_file_fails_alone_with_its_reason(hostile, name: str) -> None:
    _, d, report = hostile
    reasons = dict(report.failed)
    assert str(d / name) in reasons, sorted(reasons)
    assert HOSTILE[name] in reasons[str(d / name)]
    assert "\n" not in reasons[str(d / name)]


def test_good_files_beside_hostile_ones_are_ingested(hostile) -> None:
    engine, _d, report = hostile
    indexed = {Path(s.path).name for s in engine.sources()}
    assert indexed == {*GOOD, "good.docx", "good.pdf", "repetitive.html"}
    assert {Path(p).name for p, _ in report.failed} == set(HOSTILE)
    assert engine.retrieve("Quillon ferry harbour", 1)[0].source == "good.docx"


def test_nothing_of_a_refused_file_is_written(hostile) -> None:
    engine, d, _ = hostile
    store = engine.store
    assert store.count_chunks() == store.count_vectors() == sum(s.chunks for s in engine.sources())
    for name in HOSTILE:
        assert store.document_by_path(str(d / name)) is None


def test_a_worker_killed_on_one_file_is_replaced_for_the_next(tmp_path: Path, make_engine) -> None:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a_hang.txt").write_text("hangs\n")
    (d / "c_crash.txt").write_text("crashes\n")
    for i in range(3):
        (d / f"z{i}.txt").write_text(f"File {i} says the tram stops at platform {i + 4}.\n")
    engine = make_engine(parse_timeout=TIMEOUT)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest_module, "load", misbehaving_load(ingest_module.load))
        report = engine.ingest([d])
    assert report.added == 3
    assert sorted(Path(p).name for p, _ in report.failed) == ["a_hang.txt", "c_crash.txt"]


def test_reingesting_refuses_the_same_files_and_changes_nothing(hostile) -> None:
    engine, d, first = hostile
    again = engine.ingest([d])  # the real loaders now: the hanging ones are ordinary text
    assert (again.added, again.updated, again.removed) == (3, 0, 0)
    assert again.unchanged == first.added
    refused = {Path(p).name for p, _ in again.failed}
    assert refused == set(HOSTILE) - {"a_hang.txt", "b_greedy.txt", "c_crash.txt"}


# ---- each limit alone ----------------------------------------------------------------------
def test_text_and_chunk_limits_name_their_settings(make_engine, tmp_path: Path) -> None:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "long.txt").write_text("The ledger lists barley, oats and rye. " * 40_000)  # 1.5 MB
    (d / "many.txt").write_text("\n\n".join(f"Entry {i} of the ledger." * 40 for i in range(20)))
    (d / "short.txt").write_text("The short file says the kiln fires at dusk.\n")
    engine = make_engine(max_text_mb=1, max_chunks=8)
    reasons = {Path(p).name: r for p, r in engine.ingest([d]).failed}
    assert reasons["long.txt"] == "holds 1.49 MB of text, over the 1 MB limit (QA_MAX_TEXT_MB)"
    assert reasons["many.txt"].endswith("over the 8 chunk limit (QA_MAX_CHUNKS)")
    assert [s.source for s in engine.sources()] == ["short.txt"]


def test_zip_directory_checks_need_no_inflating(tmp_path: Path) -> None:
    bomb = docx_bomb(tmp_path / "bomb.docx", text_mb=20)
    limits = Limits(max_unzipped_mb=10, max_zip_ratio=100, env_prefix="QA_")
    with pytest.raises(LimitError, match=r"unpacks to 2\d\.?\d* MB, over the 10 MB limit"):
        check_expansion(bomb, limits)
    with pytest.raises(LimitError, match=r"word/document.xml is compressed \d+:1"):
        check_expansion(bomb, Limits(max_zip_ratio=100))
    ordinary = tmp_path / "ok.docx"
    ordinary.write_bytes(docx_bytes("An ordinary page. " * 2000))
    check_expansion(ordinary, limits)  # an ordinary DOCX passes both


def test_html_depth_counts_nesting_not_length(tmp_path: Path) -> None:
    limits = Limits(max_html_depth=512)
    check_html_depth(big_html(tmp_path / "long.html", mb=2), limits)  # long but flat
    sloppy = tmp_path / "sloppy.html"  # unclosed <p> and <li>, void tags, self-closing tags
    sloppy.write_text("<ul>" + "<li><p>item<br><img src=x><span/>" * 5000 + "</ul>")
    check_html_depth(sloppy, limits)
    script = tmp_path / "script.html"  # tags inside a script are text
    script.write_text("<script>" + "document.write('<div>');" * 5000 + "</script><p>ok</p>")
    check_html_depth(script, limits)
    with pytest.raises(LimitError, match="nested over 512 elements deep"):
        check_html_depth(nested_html(tmp_path / "deep.html", depth=600), limits)


def test_limits_are_off_when_not_given(tmp_path: Path) -> None:
    free = Limits()
    check_expansion(docx_bomb(tmp_path / "bomb.docx", text_mb=2), free)
    check_html_depth(nested_html(tmp_path / "deep.html", depth=5000), free)
    check_text(10**9, free)
    check_chunks(10**9, free)


# ---- a killed ingest leaves no worker behind -------------------------------------------------
def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended since the listing
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def test_kill_9_of_an_ingest_kills_its_parse_worker_and_frees_the_lock(tmp_path: Path) -> None:
    d = tmp_path / "docs"
    d.mkdir()
    nested_html(d / "slow.html", depth=200_000)  # minutes of parsing once the depth limit is off
    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(QA_DATA_DIR=str(data), QA_MAX_HTML_DEPTH=str(10**6), HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([*QA, "ingest", str(d)], env=env, cwd=tmp_path)
    worker = 0
    for _ in range(1200):  # wait for the worker to be forked (the CLI imports for a while)
        kids = _children(proc.pid) if proc.poll() is None else []
        if kids:
            worker = kids[0]
            break
        time.sleep(0.05)
    assert worker, "the ingest never forked a parse worker"
    time.sleep(0.5)  # it is parsing now
    proc.kill()
    proc.wait()
    for _ in range(200):
        if not Path(f"/proc/{worker}").exists() or "Z" in _state(worker):
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{worker}").exists() or "Z" in _state(worker), "the worker outlived it"
    (d / "slow.html").unlink()
    (d / "ok.txt").write_text("The next ingest is not told another one is running.\n")
    again = subprocess.run(
        [*QA, "ingest", str(d)], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert "another ingest" not in again.stderr


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


# ---- the UI: a hostile upload is refused with its reason; questions never wait for it -------
@pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # its pandas ETA statistics
def test_hostile_uploads_through_the_ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from gradio_client import Client, handle_file

    from tests.conftest import CORPUS
    from tests.test_ui import serve, stop

    served = serve(tmp_path / "data", [CORPUS], parse_timeout=600)
    try:
        client = Client(served.url, verbose=False)
        bomb = docx_bomb(tmp_path / "bomb.docx", text_mb=20)
        report = client.predict([handle_file(bomb)], api_name="/upload")[0]
        assert "bomb.docx" in report and "(QA_MAX_ZIP_RATIO)" in report, report

        marker = tmp_path / "worker.pid"
        real = ingest_module.load

        def stuck_load(path: Path, **kw: object):  # type: ignore[no-untyped-def]
            if "stuck" in path.name:  # runs in the parse worker: say who we are, then hang
                marker.write_text(str(os.getpid()))
                while True:
                    time.sleep(1)
            return real(path, **kw)

        monkeypatch.setattr(ingest_module, "load", stuck_load)
        stuck = tmp_path / "stuck.txt"
        stuck.write_text("A file whose parser never returns.\n")
        job = Client(served.url, verbose=False).submit([handle_file(stuck)], api_name="/upload")
        for _ in range(6000):
            if marker.exists() and marker.read_text():
                break
            time.sleep(0.05)
        assert marker.exists(), "the stuck upload never reached its parser"
        question = "How many alleged drug traffickers did Mexico extradite to the United States?"
        answers = [json.loads(client.predict(question, api_name="/ask")) for _ in range(3)]
        assert not job.done()  # answered while the upload was still stuck in its parser
        assert all(a["answered"] and a["citations"] for a in answers), answers
        os.kill(int(marker.read_text()), signal.SIGKILL)  # what the parse timeout would do
        report = job.result(timeout=300)[0]
        assert "stuck.txt" in report and "the parser crashed (SIGKILL)" in report, report
        assert "stuck.txt" not in {d.source for d in served.engine.sources()}
    finally:
        stop(served)
