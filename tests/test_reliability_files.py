"""Bad files never stop an ingest: good files next to them go in, each bad one is reported.

One folder (the "zoo") holds every kind of bad file we could think of next to good ones; it is
ingested once per module on a real engine (real Chroma, real model) and each case is checked
against the report. Cases that need their own set-up (unreadable files as root, files that
change while being read, twins that move) have their own tests.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index import FileReport, IngestReport
from qa import Engine, Settings

ingest_module = importlib.import_module("index.ingest")  # `index.ingest` is the function

ROOT = Path(__file__).resolve().parent.parent
QA = ROOT / ".venv" / "bin" / "qa"

GOOD = {
    "good_a.txt": "The Brackwater lighthouse was built in 1871 by the engineer Ada Pellow.\n",
    "good_b.md": "# Otters\n\nSea otters in Morro Bay use rocks as tools to open clams.\n",
    "nested.txt/inner.txt": "A folder named like a file holds files: the vault opens at dawn.\n",
    "enc_open.pdf": "The harbour master of Quillon keeps the tide tables in the red ledger.",
    "ok.pdf": "The Ferndale mill ground eleven tonnes of barley in its first winter.",
}
LATIN1 = (
    "The pupils of Genève receive their lessons at the château d'Yverdon; "
    "the café nearby serves crème brûlée à la façon de Lyon.\n"
)
CP1252 = (
    "The Kowloon tea room charges \u20ac5 for a \u201cnaïve\u201d scone \u2014 "
    "its owner\u2019s recipe\u2026 dates from 1923.\n"
)
UTF16 = "Die Brücke über die Saane in Fribourg wurde 1834 eröffnet.\n"

# name -> (status, words the reason must contain)
BAD: dict[str, tuple[str, str]] = {
    "empty.txt": ("failed", "file is empty"),
    "blank.txt": ("failed", "only whitespace"),
    "binary.txt": ("failed", "binary content"),
    "noise.txt": ("failed", "not valid text"),
    "corrupt.pdf": ("failed", "corrupt PDF"),
    "truncated.pdf": ("failed", "corrupt PDF"),
    "not_a.pdf": ("failed", "corrupt PDF"),
    "encrypted.pdf": ("failed", "encrypted PDF"),
    "scanned.pdf": ("failed", "no text layer"),
    "big.txt": ("failed", "over the 1 MB limit"),
    "huge.txt": ("failed", "over the 1 MB limit"),
    "bad.docx": ("failed", "corrupt DOCX"),
    "script_only.html": ("failed", "no text"),
    "unknown.xyz": ("skipped", "unsupported format .xyz"),
    "README": ("skipped", "unsupported format (none)"),
    "fifo.txt": ("failed", "not a regular file (a FIFO)"),
    "dangling.txt": ("failed", "broken symbolic link"),
    "loop_a.txt": ("failed", "symbolic link loop"),
    "loop_b.txt": ("failed", "symbolic link loop"),
    "sub/back_up": ("skipped", "symlinked folder not followed"),
    "twin_2.txt": ("duplicate", "same content as"),
}


def pdf_bytes(*pages: str, image: bool = False) -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for text in pages:
        c.drawString(72, 720, text)
        c.showPage()
    if image:  # a page with a drawing and no text: what a scan looks like to a text extractor
        c.rect(100, 100, 300, 400, fill=1)
        c.showPage()
    c.save()
    return buf.getvalue()


def encrypted_pdf(text: str, user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(text))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def write_docs(tmp_path: Path, files: dict[str, str]) -> Path:
    """A docs/ folder holding these files (name -> text)."""
    d = tmp_path / "docs"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def build_zoo(d: Path) -> None:
    for name, text in GOOD.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        if name == "ok.pdf":
            (d / name).write_bytes(pdf_bytes(text))
        elif name == "enc_open.pdf":  # encrypted, but with an empty user password: readable
            (d / name).write_bytes(encrypted_pdf(text, ""))
        else:
            (d / name).write_text(text, encoding="utf-8")
    (d / "latin1.txt").write_bytes(LATIN1.encode("latin-1"))
    (d / "cp1252.txt").write_bytes(CP1252.encode("cp1252"))
    (d / "utf16.txt").write_bytes(UTF16.encode("utf-16"))  # with a BOM, as Notepad writes it
    (d / "alias.txt").symlink_to(d / "good_a.txt")  # the same file twice: indexed once

    (d / "empty.txt").write_bytes(b"")
    (d / "blank.txt").write_bytes(b"  \n\t\n   ")
    (d / "binary.txt").write_bytes(Path(sys.executable).resolve().read_bytes()[:6000])
    noise = bytes(range(1, 256)) * 8  # no NUL byte, but no encoding makes text of it
    (d / "noise.txt").write_bytes(noise)
    full = pdf_bytes("Page one of a document.", "Page two of a document.")
    (d / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog \x00\x01 garbage")
    (d / "truncated.pdf").write_bytes(full[: len(full) // 2])
    (d / "not_a.pdf").write_bytes(b"this is plain text wearing a .pdf name")
    (d / "encrypted.pdf").write_bytes(encrypted_pdf("The secret is kept.", "hunter2"))
    (d / "scanned.pdf").write_bytes(pdf_bytes(image=True))
    (d / "big.txt").write_text("Lorem ipsum dolor sit amet. " * 60_000)  # ~1.6 MB
    with open(d / "huge.txt", "wb") as fh:  # 4 GB, sparse: must be refused without reading it
        fh.truncate(4 * 2**30)
    (d / "bad.docx").write_bytes(b"PK\x03\x04 not really a zip archive")
    (d / "script_only.html").write_text("<html><script>alert('x')</script><style>p{}</style>")
    (d / "unknown.xyz").write_text("Text in a format nobody asked for.")
    (d / "README").write_text("A file with no extension.")
    os.mkfifo(d / "fifo.txt")  # reading it would block forever
    (d / "dangling.txt").symlink_to(d / "does-not-exist.txt")
    (d / "loop_a.txt").symlink_to(d / "loop_b.txt")
    (d / "loop_b.txt").symlink_to(d / "loop_a.txt")
    (d / "sub").mkdir()
    (d / "sub" / "back_up").symlink_to(d)  # a folder loop
    twin = "Twins share this sentence about the walrus colony at Svalbard.\n"
    (d / "twin_1.txt").write_text(twin)
    (d / "twin_2.txt").write_text(twin)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Path, IngestReport]]:
    d = tmp_path_factory.mktemp("zoo")
    build_zoo(d)
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("zoo-data"), max_file_mb=1))
    report = engine.ingest([d])  # returns at all: the fifo and the symlink loops block nothing
    yield engine, d, report
    engine.close()


def by_name(report: IngestReport, root: Path) -> dict[str, FileReport]:
    out: dict[str, FileReport] = {}
    for f in report.files:
        p = Path(f.path)
        out[str(p.relative_to(root)) if p.is_relative_to(root) else p.name] = f
    return out


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_file_is_reported_with_its_reason(zoo, name: str) -> None:
    _, d, report = zoo
    files = by_name(report, d.resolve()) | by_name(report, d)
    assert name in files, f"{name} not reported: {sorted(files)}"
    status, words = BAD[name]
    assert files[name].status == status, files[name]
    assert words in (files[name].reason or ""), files[name]
    assert "\n" not in (files[name].reason or "")


def test_good_files_next_to_bad_ones_are_all_ingested(zoo) -> None:
    engine, d, report = zoo
    indexed = {Path(s.path).relative_to(d.resolve()).as_posix() for s in engine.sources()}
    want = set(GOOD) | {"latin1.txt", "cp1252.txt", "utf16.txt", "twin_1.txt"}
    assert indexed == want  # no bad file slipped in, the alias and the twin are not doubled
    assert report.added == len(want)
    failed = {Path(p).name for p, _ in report.failed}
    assert failed == {n.split("/")[-1] for n, (s, _) in BAD.items() if s == "failed"}


def test_index_is_consistent_after_the_zoo(zoo) -> None:
    engine, _, _ = zoo
    store = engine.store
    for info in engine.sources():
        text, _ = store.document_text(info.path) or ("", [])
        rows = store.chunks(store.chunk_ids(info.doc_id))
        assert len(rows) == info.chunks > 0
        for rec in rows.values():
            assert text[rec.start : rec.end] == rec.text  # the offset invariant, chunk by chunk
    assert store.count_chunks() == store.count_vectors()


@pytest.mark.parametrize(
    ("name", "expected"), [("latin1.txt", LATIN1), ("cp1252.txt", CP1252), ("utf16.txt", UTF16)]
)
def test_legacy_encodings_are_decoded_not_mangled(zoo, name: str, expected: str) -> None:
    engine, d, _ = zoo
    assert engine.document_text(d / name) == expected


@pytest.mark.parametrize(
    ("question", "name", "needle"),
    [
        ("How much does the Kowloon tea room charge for a scone?", "cp1252.txt", "\u20ac5"),
        ("Where do the pupils receive their lessons?", "latin1.txt", "château"),
    ],
)
def test_citations_into_legacy_files_hold_the_offset_invariant(
    zoo, question: str, name: str, needle: str
) -> None:
    engine, d, _ = zoo
    answer = engine.ask(question)
    cited = [c for c in answer.citations if c.source == name]
    assert answer.answered and cited, answer
    text = engine.document_text(d / name)
    for c in cited:
        assert c.quote == text[c.start : c.end]
    assert any(needle in c.quote for c in cited)


def test_reingesting_the_zoo_changes_nothing(zoo) -> None:
    engine, d, first = zoo
    again = engine.ingest([d])
    assert (again.added, again.updated, again.removed, again.chunks) == (0, 0, 0, 0)
    assert again.unchanged == first.added
    assert sorted(again.failed) == sorted(first.failed)


def test_a_huge_file_is_refused_without_being_read(zoo) -> None:
    engine, d, _ = zoo
    report = engine.ingest([d / "huge.txt"])
    assert report.failed == [
        (str(d / "huge.txt"), "file is 4096 MB, over the 1 MB limit (QA_MAX_FILE_MB)")
    ]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing.txt", "no such file or folder"),
        ("fifo.txt", "not a regular file (a FIFO)"),
        ("dangling.txt", "broken symbolic link"),
        ("loop_a.txt", "symbolic link loop"),
        ("unknown.xyz", "unsupported format .xyz"),
    ],
)
def test_bad_paths_named_directly_are_reported(zoo, name: str, reason: str) -> None:
    engine, d, _ = zoo
    report = engine.ingest([d / name, d / "good_a.txt"])
    assert report.failed == [(str(d / name), reason)]
    assert report.unchanged == 1


# ---- unreadable files, even for root ---------------------------------------------------------
class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


@contextlib.contextmanager
def permissions_enforced() -> Iterator[None]:
    """Make file permissions bind this thread (and threads it starts), even as root.

    Root reads a chmod-000 file through CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH; clearing
    them from the effective set (they stay permitted) makes the kernel check permissions.
    """
    if os.geteuid() != 0:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        pytest.skip("running as root and capabilities cannot be read: chmod 000 would not bind")
    saved = data[0].effective
    data[0].effective &= ~((1 << 1) | (1 << 2))  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if libc.capset(ctypes.byref(header), data) != 0:
        pytest.skip("running as root and CAP_DAC_OVERRIDE cannot be dropped")
    try:
        yield
    finally:
        data[0].effective = saved
        libc.capset(ctypes.byref(header), data)


def test_unreadable_files_and_folders_are_reported(make_engine, tmp_path: Path) -> None:
    d = tmp_path / "docs"
    (d / "locked_dir").mkdir(parents=True)
    (d / "ok.txt").write_text("The readable file says the ferry leaves at nine.\n")
    (d / "locked.txt").write_text("The locked file says nothing to anyone.\n")
    (d / "locked_dir" / "inside.txt").write_text("Behind a locked folder.\n")
    (d / "locked.txt").chmod(0)
    (d / "locked_dir").chmod(0)
    engine = make_engine()
    try:
        with permissions_enforced():
            with pytest.raises(PermissionError):
                (d / "locked.txt").read_bytes()
            report = engine.ingest([d])
    finally:
        (d / "locked_dir").chmod(0o755)
        (d / "locked.txt").chmod(0o644)
    assert sorted(report.failed) == [
        (str(d / "locked.txt"), "permission denied"),
        (str(d / "locked_dir"), "cannot read folder: Permission denied"),
    ]
    assert [s.source for s in engine.sources()] == ["ok.txt"]
    again = engine.ingest([d])  # readable now: picked up, nothing doubled
    assert (again.added, again.unchanged, again.failed) == (2, 1, [])


# ---- files that change under our feet --------------------------------------------------------
def test_a_file_rewritten_between_hash_and_read_is_read_again(
    make_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = write_docs(
        tmp_path,
        {
            "moving.txt": "First version: the bridge opened in May.\n",
            "still.txt": "A file that stays still: the mill turns slowly.\n",
        },
    )
    target = d / "moving.txt"
    real = ingest_module.load
    rewrites = iter(["Second version: the bridge opened in June, after the floods.\n"])

    def rewrite_then_load(path: Path, **kw: object):  # type: ignore[no-untyped-def]
        if path.name == "moving.txt":  # rewritten once, between our hash and our read
            nxt = next(rewrites, None)
            if nxt is not None:
                path.write_text(nxt)
        return real(path, **kw)

    monkeypatch.setattr(ingest_module, "load", rewrite_then_load)
    engine = make_engine()
    report = engine.ingest([d])
    assert report.added == 2 and not report.failed
    assert engine.document_text(target) == target.read_text()  # the version that was read
    assert "June" in engine.document_text(target)


def test_a_file_that_keeps_changing_is_reported_and_picked_up_later(
    make_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = write_docs(
        tmp_path,
        {
            "log.txt": "entry 0: the station logged rain.\n",
            "calm.txt": "The calm file: herons nest by the weir.\n",
        },
    )
    target = d / "log.txt"
    real = ingest_module.load
    count = iter(range(1, 1000))

    def append_then_load(path: Path, **kw: object):  # type: ignore[no-untyped-def]
        if path.name == "log.txt":  # a writer appends between our hash and our read, each time
            with open(path, "a") as fh:
                fh.write(f"entry {next(count)}: the station logged more rain.\n")
        return real(path, **kw)

    monkeypatch.setattr(ingest_module, "load", append_then_load)
    engine = make_engine()
    report = engine.ingest([d])
    assert report.failed == [(str(target), "file kept changing while being read; ingest again")]
    assert [s.source for s in engine.sources()] == ["calm.txt"]
    monkeypatch.undo()
    again = engine.ingest([d])
    assert again.added == 1 and not again.failed
    assert engine.document_text(target) == target.read_text()


def test_a_file_rewritten_by_another_thread_during_ingest(make_engine, tmp_path: Path) -> None:
    d = write_docs(
        tmp_path,
        {f"doc{i:02d}.txt": f"Document {i} tells of harbour number {i * 7}.\n" for i in range(30)},
    )
    versions = [
        "Version A of the changing file: the tram line closed in 1956.\n",
        "Version B of the changing file, a little longer: the tram line reopened in 2011.\n",
    ]
    target = d / "doc15.txt"
    stop = threading.Event()

    def rewrite() -> None:
        i = 0
        while not stop.is_set():
            target.write_text(versions[i % 2])
            i += 1
            time.sleep(0.0005)

    engine = make_engine()
    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        report = engine.ingest([d])
    finally:
        stop.set()
        writer.join()
    statuses = {Path(f.path).name: f.status for f in report.files}
    assert all(statuses[f"doc{i:02d}.txt"] == "added" for i in range(30) if i != 15)
    assert statuses["doc15.txt"] in ("added", "failed")
    if statuses["doc15.txt"] == "added":
        assert engine.document_text(target) in versions  # a whole version, never a torn one
    again = engine.ingest([d])  # the file is still now: its final version is what is indexed
    assert not again.failed
    assert engine.document_text(target) == target.read_text()
    assert engine.store.count_chunks() == engine.store.count_vectors()


def test_a_file_deleted_during_ingest_is_reported_and_dropped(
    make_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = write_docs(
        tmp_path,
        {
            "keep.txt": "Kept: the orchard has forty pear trees.\n",
            "vanish.txt": "Vanishing: the pier was painted blue.\n",
        },
    )
    engine = make_engine()
    assert engine.ingest([d]).added == 2
    (d / "vanish.txt").write_text("Vanishing, edited: the pier was painted green.\n")
    real = ingest_module.discover

    def discover_then_delete(paths):  # type: ignore[no-untyped-def]
        found = real(paths)
        (d / "vanish.txt").unlink()
        return found

    monkeypatch.setattr(ingest_module, "discover", discover_then_delete)
    report = engine.ingest([d])
    assert report.failed == [(str(d / "vanish.txt"), "cannot read file: No such file or directory")]
    assert report.removed == 1  # its old text does not linger in answers
    assert [s.source for s in engine.sources()] == ["keep.txt"]


# ---- the same content under two names --------------------------------------------------------
def test_twins_are_indexed_once_and_survive_the_original_going(make_engine, tmp_path: Path) -> None:
    text = "The only copy of this sentence says the kiln fires at dusk.\n"
    d = write_docs(tmp_path, {"a.txt": text, "b.txt": text})
    engine = make_engine()
    first = engine.ingest([d])
    assert first.added == 1
    assert [(Path(f.path).name, f.status) for f in first.files if f.status == "duplicate"] == [
        ("b.txt", "duplicate")
    ]
    (d / "a.txt").unlink()  # the indexed twin goes: its content must not go with it
    second = engine.ingest([d])
    assert (second.added, second.removed) == (1, 1)
    assert [s.source for s in engine.sources()] == ["b.txt"]
    (d / "c.txt").write_text(text)
    (d / "b.txt").write_text("b.txt now says something else: the kiln is cold.\n")
    third = engine.ingest([d])  # c.txt takes b.txt's old text, which b.txt no longer has
    assert (third.added, third.updated) == (1, 1)
    assert sorted(s.source for s in engine.sources()) == ["b.txt", "c.txt"]


def test_a_file_edited_into_a_twin_loses_its_old_text(make_engine, tmp_path: Path) -> None:
    d = write_docs(
        tmp_path,
        {
            "a.txt": "Original a: the lantern is brass.\n",
            "b.txt": "Original b: the signal flag is yellow.\n",
        },
    )
    engine = make_engine()
    assert engine.ingest([d]).added == 2
    (d / "b.txt").write_text((d / "a.txt").read_text())
    report = engine.ingest([d])
    assert [f.status for f in report.files if f.path.endswith("b.txt")] == ["duplicate"]
    hits = engine.retrieve("signal flag yellow", 5)
    assert all("yellow" not in p.text for p in hits)  # b's old text is gone from the index
    assert engine.store.count_chunks() == engine.store.count_vectors()


# ---- the CLI ---------------------------------------------------------------------------------
def run_qa(*args: str, data_dir: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(QA_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run(
        [str(QA), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=data_dir
    )


def test_cli_ingest_prints_the_report_and_exits_1_when_some_failed(tmp_path: Path) -> None:
    d = write_docs(
        tmp_path,
        {
            "good.txt": "The good file says the bell rings twice at noon.\n",
            "notes.xyz": "unsupported",
        },
    )
    data = tmp_path / "data"
    data.mkdir()
    ok = run_qa("ingest", "--json", str(d), data_dir=data)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["added"] == 1  # skipped files do not fail the run

    (d / "empty.txt").write_bytes(b"")
    (d / "corrupt.pdf").write_bytes(b"%PDF-1.4 broken")
    bad = run_qa("ingest", "--json", str(d), data_dir=data)
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    report = json.loads(bad.stdout)  # the JSON report is printed even when some failed
    assert report["unchanged"] == 1
    reasons = dict(report["failed"])
    assert reasons[str(d / "empty.txt")] == "file is empty"
    assert reasons[str(d / "corrupt.pdf")].startswith("corrupt PDF")

    text = run_qa("ingest", str(d), data_dir=data)
    assert text.returncode == 1
    assert "Traceback" not in text.stderr
    assert f"failed: {d / 'empty.txt'}: file is empty" in text.stdout


def test_cli_ingest_of_a_missing_path_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    res = run_qa("ingest", "--json", str(tmp_path / "nowhere"), data_dir=data)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    failed = json.loads(res.stdout)["failed"]
    assert failed == [[str(tmp_path / "nowhere"), "no such file or folder"]]
