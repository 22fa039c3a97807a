"""The Gradio UI, launched for real on a free port and driven with gradio_client.

Why: the UI is how most people meet corpus-qa, and its API is a contract (`/ask` returns
the `qa ask --json` object as a JSON string). Uploads cross a trust boundary (names and
sizes chosen by a stranger), and login must actually keep answers behind the password.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from gradio_client import Client, handle_file

import qa
from qa import Answer, Citation, DocumentInfo, Engine, InputError, Passage, Settings
from tests.conftest import CORPUS, ROOT
from ui import render, uploads
from ui.app import launch, parse_auth

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")  # its pandas ETA stats
MAX_UPLOAD_MB = 0.05  # small, so the over-size test needs only a 60 KB file
FACT = "The lighthouse keeper Orlaith Venn repaints the Skerrow Point lamp every ninth of March."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    engine: Engine
    url: str
    app: Any


def serve(data_dir: Path, docs: list[Path], **settings: Any) -> Served:
    """Ingest `docs` into a fresh engine and launch the real app on a free port."""
    engine = Engine(Settings(data_dir=data_dir, **settings))
    if docs:
        engine.ingest(docs)
    app, url = launch(engine, host="127.0.0.1", port=free_port())
    return Served(engine, url, app)


def stop(served: Served) -> None:
    served.app.close()
    served.engine.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = serve(tmp_path_factory.mktemp("ui-data"), [CORPUS], max_upload_mb=MAX_UPLOAD_MB)
    yield s
    stop(s)


@pytest.fixture(scope="module")
def client(server: Served) -> Client:
    return Client(server.url, verbose=False)


def ask(client: Client, question: str) -> dict[str, Any]:
    return json.loads(client.predict(question, api_name="/ask"))


# ---- /ask ---------------------------------------------------------------------------------
def test_ask_returns_the_cli_json_object_with_checkable_citations(
    server: Served, client: Client
) -> None:
    out = ask(client, "How many alleged drug traffickers did Mexico extradite to the US?")
    assert {"question", "answer", "answered", "citations", "mode", "timings_ms"} <= set(out)
    assert out["answered"] is True and "29" in out["answer"]
    assert out["citations"], out
    for c in out["citations"]:
        assert set(c) == {"n", "source", "path", "quote", "start", "end", "page", "score"}
        assert f"[{c['n']}]" in out["answer"]
        assert server.engine.document_text(c["path"])[c["start"] : c["end"]] == c["quote"]


def test_ask_refuses_what_is_not_in_the_documents(client: Client) -> None:
    out = ask(client, "What is the boiling point of liquid nitrogen on Neptune?")
    assert out["answered"] is False and out["citations"] == []


def test_ask_reports_bad_input_as_a_clean_error(client: Client) -> None:
    with pytest.raises(Exception, match="the question is empty"):
        client.predict("   ", api_name="/ask")


# ---- uploads ------------------------------------------------------------------------------
def test_an_upload_is_ingested_then_answerable(
    server: Served, client: Client, tmp_path: Path
) -> None:
    note = tmp_path / "lighthouse notes.md"
    note.write_text(f"# Skerrow Point\n\n{FACT}\n", encoding="utf-8")
    report, docs_html, _picker, status = client.predict([handle_file(note)], api_name="/upload")
    assert "lighthouse notes.md" in report and "added" in report, report
    stored = server.engine.settings.data_dir / "uploads" / "lighthouse notes.md"
    assert stored.read_text(encoding="utf-8") == note.read_text(encoding="utf-8")
    assert "lighthouse notes.md" in docs_html and "documents" in status
    out = ask(client, "Who repaints the Skerrow Point lamp?")
    assert out["answered"] and "Orlaith Venn" in out["answer"]
    assert any(c["source"] == "lighthouse notes.md" for c in out["citations"])


def test_a_traversal_name_lands_inside_the_uploads_folder(server: Served, client: Client) -> None:
    data_dir = server.engine.settings.data_dir
    body = b"The traversal probe file mentions the word quokkaberry."
    r = httpx.post(
        f"{server.url}gradio_api/upload",
        files=[("files", ("../../escaped-probe.txt", body, "text/plain"))],
    )
    r.raise_for_status()
    report = client.predict(
        [
            {
                "path": r.json()[0],
                "orig_name": "../../escaped-probe.txt",
                "meta": {"_type": "gradio.FileData"},
            }
        ],
        api_name="/upload",
    )[0]
    assert "added" in report, report
    assert (data_dir / "uploads" / "escaped-probe.txt").read_bytes() == body
    for outside in (data_dir / "escaped-probe.txt", data_dir.parent / "escaped-probe.txt"):
        assert not outside.exists()


def test_uploads_save_keeps_hostile_names_inside_the_folder(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_text("hello", encoding="utf-8")
    folder = tmp_path / "data" / "uploads"
    names = ["../../x.txt", "..\\..\\win.md", "/etc/passwd.txt", ".hidden.md", "a/b/../c.PDF"]
    saved, rejected = uploads.save([(n, src) for n in names], folder, max_mb=1)
    assert rejected == []
    assert sorted(p.name for p in saved) == ["c.pdf", "hidden.md", "passwd.txt", "win.md", "x.txt"]
    assert all(p.parent == folder.resolve() for p in saved)
    assert sorted(f.name for f in (tmp_path / "data").rglob("*") if f.is_file()) == sorted(
        p.name for p in saved
    )
    assert uploads.safe_name("<script>.txt") == "script.txt"
    assert uploads.safe_name("..") == "upload"


def test_an_oversize_upload_is_refused_with_a_clear_message(
    server: Served, client: Client, tmp_path: Path
) -> None:
    big = tmp_path / "big.txt"
    big.write_text("lorem ipsum " * 6000, encoding="utf-8")  # 72 KB > 0.05 MB
    with pytest.raises(Exception, match="maximum file size"):
        client.predict([handle_file(big)], api_name="/upload")
    assert "big.txt" not in {d.source for d in server.engine.sources()}
    # the server-side check behind Gradio's own limit says what the limit is
    saved, rejected = uploads.save([("big.txt", big)], tmp_path / "up", MAX_UPLOAD_MB)
    assert saved == []
    assert rejected == [
        ("big.txt", "0.1 MB is over the upload limit of 0.05 MB (QA_MAX_UPLOAD_MB)")
    ]


def test_unsupported_and_empty_files_are_refused(client: Client, tmp_path: Path) -> None:
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    with pytest.raises(Exception, match="Invalid file type"):
        client.predict([handle_file(exe)], api_name="/upload")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    report = client.predict([handle_file(empty)], api_name="/upload")[0]
    assert "empty.txt" in report and "the file is empty" in report
    assert uploads.check("tool.exe", 10, 1) == (
        "unsupported type .exe; allowed: .txt .md .markdown .pdf .html .htm .docx"
    )


def test_delete_removes_an_upload_and_reindex_reports(
    server: Served, client: Client, tmp_path: Path
) -> None:
    doomed = tmp_path / "doomed.txt"
    doomed.write_text("The doomed file talks about the Vellichor archive.", encoding="utf-8")
    client.predict([handle_file(doomed)], api_name="/upload")
    stored = server.engine.settings.data_dir / "uploads" / "doomed.txt"
    assert stored.exists()
    report = client.predict(str(stored), api_name="/delete")[0]
    assert "removed" in report
    assert "doomed.txt" not in {d.source for d in server.engine.sources()}
    assert not stored.exists()
    report = client.predict(api_name="/reindex")[0]
    assert "unchanged" in report and "failed" not in report


def test_allowed_upload_types_match_the_loaders() -> None:
    from index import SUPPORTED

    assert tuple(uploads.ALLOWED) == tuple(SUPPORTED)


# ---- login and binding --------------------------------------------------------------------
def test_with_ui_auth_set_no_answer_without_the_password(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text(FACT, encoding="utf-8")
    s = serve(tmp_path / "data", [note], ui_auth="alice:s3cret")
    try:
        with pytest.raises(Exception, match=r"credentials|login|Login"):
            Client(s.url, verbose=False).predict("Who repaints the lamp?", api_name="/ask")
        with pytest.raises(Exception, match=r"login|Login"):
            Client(s.url, auth=("alice", "wrong"), verbose=False)
        for path in ("config", "gradio_api/info", "gradio_api/call/ask"):
            r = httpx.post(f"{s.url}{path}", json={"data": ["Who?"]})
            assert r.status_code in (401, 405), (path, r.status_code)
        r = httpx.post(f"{s.url}gradio_api/call/ask", json={"data": ["Who?"]})
        assert r.status_code == 401 and "Orlaith" not in r.text
        authed = Client(s.url, auth=("alice", "s3cret"), verbose=False)
        out = json.loads(authed.predict("Who repaints the Skerrow Point lamp?", api_name="/ask"))
        assert "Orlaith Venn" in out["answer"]
    finally:
        stop(s)


def test_parse_auth() -> None:
    assert parse_auth(None) is None
    assert parse_auth("bob:pa:ss") == ("bob", "pa:ss")
    with pytest.raises(InputError, match="user:password"):
        parse_auth("nopassword")


def test_binds_localhost_by_default_and_never_shares(server: Served) -> None:
    from ui.cli import ui_command

    host = next(p for p in ui_command.params if p.name == "host")
    assert host.default == "127.0.0.1"
    assert launch.__kwdefaults__["host"] == "127.0.0.1"
    assert server.app.server_name == "127.0.0.1" and not server.app.share
    assert server.url.startswith("http://127.0.0.1:")


def test_a_busy_port_is_a_plain_input_error(server: Served) -> None:
    port = int(server.url.rstrip("/").rsplit(":", 1)[1])
    with pytest.raises(InputError, match=f"cannot listen on 127.0.0.1:{port}"):
        launch(server.engine, port=port)


def test_qa_ui_help_does_not_import_gradio() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from ui.cli import ui_command\n"
        "r = CliRunner().invoke(ui_command, ['--help'])\n"
        "assert r.exit_code == 0 and '127.0.0.1' in r.output, r.output\n"
        "assert 'gradio' not in sys.modules, 'gradio imported by qa ui --help'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


# ---- sessions -----------------------------------------------------------------------------
def test_sessions_do_not_share_history(server: Served) -> None:
    from ui.chat import ChatHandlers, new_session

    chat = ChatHandlers(server.engine)
    a = list(chat.respond("Who is Caro Quintero?", new_session()))[-1][3]
    follow_up = "and when was he arrested again?"
    a2 = list(chat.respond(follow_up, a))[-1]
    b = list(chat.respond(follow_up, new_session()))[-1]
    assert "Searched for: “and when was Caro Quintero arrested again?" in a2[2]  # used A's turn
    assert "Searched for" not in b[2]  # B has no earlier turn to borrow from
    assert len(a2[3]["history"]) == 4 and len(b[3]["history"]) == 2
    assert [m["role"] for m in b[1]] == ["user", "assistant"]


def test_a_bad_question_shows_an_error_bubble_and_keeps_the_session(server: Served) -> None:
    from ui.chat import ChatHandlers, new_session

    chat = ChatHandlers(server.engine)
    start = new_session()
    _box, messages, _panel, session = list(chat.respond("why " * 700, start))[-1]
    assert "qa-error" in messages[-1]["content"] and "limit" in messages[-1]["content"]
    assert session["history"] == [] and session["count"] == 0


# ---- escaping -----------------------------------------------------------------------------
EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_rendered_html_escapes_documents_names_and_questions() -> None:
    text = f"Intro. {EVIL} The secret is 42. Outro."
    start = text.index("The secret")
    end = start + len("The secret is 42.")
    cite = Citation(1, f"{EVIL}.txt", f"/d/{EVIL}.txt", text[start:end], start, end, None, 0.9)
    passage = Passage("c1", f"{EVIL}.txt", cite.path, text, 0, len(text), None, 0.03, 1, 2)
    answer = Answer(
        question=EVIL,
        text=f"The secret is 42. [1] {EVIL}",
        answered=True,
        citations=[cite],
        retrieved=[passage],
        search_query=f"{EVIL}?",
        notice=EVIL,
    )
    doc = DocumentInfo("id", cite.path, cite.source, EVIL, "txt", "sha", 10, 10, 0, 1, 0.0)
    pieces = [
        render.answer_html(answer, 0),
        render.partial_html(answer.text),
        render.user_html(EVIL),
        render.turn_html(0, answer, lambda _p: text, {cite.path: EVIL}),
        render.document_html(cite.source, text, start, end),
        render.documents_html([doc]),
        render.error_html(EVIL),
    ]
    for html in pieces:
        assert "<script" not in html and "<img" not in html and 'onerror="' not in html
        assert "&lt;script&gt;" in html
    card = pieces[3]
    assert "<mark>The secret is 42.</mark>" in card
    assert '<a class="qa-cite" href="#qa-c-0-1"' in pieces[0]
    assert '<mark id="qa-doc-mark">The secret is 42.</mark>' in pieces[4]


def test_refusal_is_rendered_differently() -> None:
    refusal = Answer(question="q", text=qa.REFUSAL_TEXT, answered=False)
    html = render.answer_html(refusal, 3)
    assert "qa-refusal" in html and "Not in the documents" in html
    assert "qa-refusal" not in render.answer_html(Answer("q", "Yes [1].", True), 4)


# ---- boundaries ---------------------------------------------------------------------------
def test_ui_imports_only_the_public_qa_api() -> None:
    allowed = set(qa.__all__)
    for path in sorted((ROOT / "ui").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                top = node.module.split(".")[0]
                assert top not in ("index", "eval"), f"{path.name} imports {node.module}"
                if top == "qa":
                    assert node.module == "qa", f"{path.name} imports {node.module}"
                    assert {a.name for a in node.names} <= allowed, path.name
            elif isinstance(node, ast.Import):
                for a in node.names:
                    assert a.name.split(".")[0] not in ("qa", "index", "eval"), path.name


def test_ui_all_is_complete() -> None:
    import ui

    assert ui.__all__ == ["build_app", "launch"]
    assert all(callable(getattr(ui, name)) for name in ui.__all__)
    assert CORPUS.is_dir()
