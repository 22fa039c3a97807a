"""The UI in a real browser: Debian's headless Chromium driven by playwright.

Why: the chat's value is what a person sees — a streamed answer, clickable [n] markers,
the quote highlighted in its source, a document that opens at the span — and none of
that exists until the page's own JavaScript has run. Playwright's bundled browser cannot
be downloaded here, so the system /usr/bin/chromium is used (`make browser` installs it).
Screenshots go to tests/artifacts/; time to first token goes to ui_timings.json there.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS, CORPUS
from tests.test_ui import Served, serve, stop

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing: run `make browser` (apt-get install chromium)",
    ),
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "Why is Caro Quintero wanted in the US?"
DOSSIER = (
    "# Dossier\n\n<script>window.__pwned = 1; alert('pwned')</script>\n"
    '<img src="x" onerror="window.__pwned = 2">\n\n'
    "The archivist Tamsin Quell catalogued the Brennock ledgers in the spring of 1931.\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    docs = tmp_path_factory.mktemp("docs")
    (docs / "dossier.md").write_text(DOSSIER, encoding="utf-8")
    s = serve(tmp_path_factory.mktemp("ui-browser-data"), [CORPUS, docs / "dossier.md"])
    yield s
    stop(s)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile,  # a fresh --user-data-dir
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: Any, server: Served) -> Iterator[Any]:
    page = browser.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.outside = []  # type: ignore[attr-defined]
    page.on("request", lambda r: r.url.startswith(server.url) or page.outside.append(r.url))
    page.goto(server.url)
    page.wait_for_selector("#qa-input textarea")
    yield page
    assert page.outside == [], f"the page reached outside the app: {page.outside}"
    page.close()


def ask(page: Any, question: str) -> dict[str, float]:
    """Type a question, press Enter; return seconds to the first token and to the end."""
    n = page.locator("#qa-chat .qa-answer").count()  # the new answer will be bubble n
    page.fill("#qa-input textarea", question)
    t0 = time.perf_counter()
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"""() => {{ const a = document.querySelectorAll('#qa-chat .qa-answer')[{n}];
                     return a && !a.classList.contains('qa-wait') && a.textContent.trim(); }}""",
        polling="raf",
        timeout=60_000,
    )
    first = time.perf_counter() - t0
    page.wait_for_function(
        f"""() => {{ const a = document.querySelectorAll('#qa-chat .qa-answer')[{n}];
                     return a && !a.classList.contains('qa-streaming'); }}""",
        timeout=60_000,
    )
    return {"first_token_s": round(first, 3), "answer_s": round(time.perf_counter() - t0, 3)}


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def test_answer_streams_with_a_highlighted_clickable_citation(page: Any, server: Served) -> None:
    timings = [ask(page, "How many alleged drug traffickers did Mexico extradite to the US?")]
    timings.append(ask(page, QUESTION))
    answer = page.locator("#qa-chat .qa-answer").last
    assert "Quintero" in answer.inner_text()
    marks = page.locator("#qa-sources .qa-turn.qa-active .qa-card mark")
    assert marks.count() >= 1
    expected = server.engine.ask(QUESTION)
    assert marks.first.inner_text().split() == expected.citations[0].quote.split()
    cites = answer.locator("a.qa-cite")
    assert cites.count() == len(expected.citations)
    shot(page, "ui_chat.png")  # the README's screenshot (docs/screenshot.png)
    cites.last.click()
    card = page.locator(f"#qa-sources #qa-c-1-{len(expected.citations)}")
    card.wait_for(state="visible")
    assert "qa-flash" in (card.get_attribute("class") or "")
    page.wait_for_timeout(900)  # the smooth scroll
    panel = page.locator("#qa-sources .qa-panel").bounding_box()
    top = card.bounding_box()["y"]
    assert panel["y"] <= top < panel["y"] + panel["height"] / 2, "card scrolled into view"
    shot(page, "ui_citation_clicked.png")
    (ARTIFACTS / "ui_timings.json").write_text(json.dumps(timings, indent=2), encoding="utf-8")
    assert page.dialogs == []


def test_a_source_opens_the_whole_document_at_the_span(page: Any, server: Served) -> None:
    ask(page, QUESTION)
    quote = server.engine.ask(QUESTION).citations[0].quote
    page.locator("#qa-sources .qa-turn.qa-active .qa-open").first.click()
    mark = page.locator("#qa-doc-overlay #qa-doc-mark")
    mark.wait_for(state="visible")
    assert mark.inner_text().split() == quote.split()
    assert mark.is_visible() and mark.bounding_box()["y"] < 900  # scrolled into view
    shot(page, "ui_document.png")
    page.keyboard.press("Escape")
    assert page.locator("#qa-doc-overlay").count() == 0


def test_a_document_with_script_tags_shows_them_as_text(page: Any) -> None:
    ask(page, "Who catalogued the Brennock ledgers?")
    assert "Tamsin Quell" in page.locator("#qa-chat .qa-answer").last.inner_text()
    page.locator("#qa-sources .qa-turn.qa-active .qa-open").first.click()
    page.locator("#qa-doc-overlay #qa-doc-mark").wait_for(state="visible")
    assert "<script>window.__pwned" in page.locator("#qa-doc-overlay .qa-doc").inner_text()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []


def test_a_refusal_looks_different(page: Any) -> None:
    ask(page, "What is the boiling point of liquid nitrogen on Neptune?")
    refusal = page.locator("#qa-chat .qa-answer.qa-refusal").last
    assert "Not in the documents" in (refusal.text_content() or "")
    style = """(e) => { const c = getComputedStyle(e.closest('.message.bot') || e);
                        return c.borderLeftColor + ' ' + c.backgroundColor; }"""
    ask(page, QUESTION)
    normal = page.locator("#qa-chat .qa-answer").last
    assert refusal.evaluate(style) != normal.evaluate(style)
    shot(page, "ui_refusal.png")


def test_each_browser_session_has_its_own_history(page: Any, browser: Any) -> None:
    ask(page, "Who is Caro Quintero?")
    other = browser.new_page()
    try:
        other.goto(page.url)
        other.wait_for_selector("#qa-input textarea")
        assert other.locator("#qa-chat .qa-answer").count() == 0
        ask(other, "and when was he arrested again?")
        assert "Searched for" not in other.locator("#qa-sources .qa-active").inner_html()
        ask(page, "and when was he arrested again?")
        assert "Searched for" in page.locator("#qa-sources .qa-active").inner_html()
        other.get_by_role("button", name="New chat").click()
        other.wait_for_function("!document.querySelector('#qa-chat .qa-answer')")
        assert page.locator("#qa-chat .qa-answer").count() == 2
    finally:
        other.close()


def test_documents_tab_uploads_with_a_report_then_answers(page: Any, tmp_path: Path) -> None:
    note = tmp_path / "orchard.txt"
    note.write_text("The Halloway orchard grows the rare Pennick russet apple.", encoding="utf-8")
    page.get_by_role("tab", name="Documents").click()
    page.locator("input[type=file]").set_input_files(str(note))
    page.wait_for_selector(".qa-report li.qa-ok", timeout=60_000)
    assert "orchard.txt" in page.locator(".qa-report").inner_text()
    assert "orchard.txt" in page.locator("#qa-docs").inner_text()
    shot(page, "ui_documents.png")
    page.get_by_role("tab", name="Chat").click()
    ask(page, "Which apple does the Halloway orchard grow?")
    assert "Pennick russet" in page.locator("#qa-chat .qa-answer").last.inner_text()
