"""The answerer seam: Engine picks one answerer once and only wires; the document texts
every answerer, the UI and eval read; the environment defaults set in one place."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas

from index.loaders import load
from qa import SUPPORTED, Answer, Citation, Engine, History, Settings, StreamEvent
from qa import set_env_defaults as set_env
from qa.extractive import ExtractiveAnswerer
from qa.llm import LLMAnswerer
from tests.conftest import ROOT


def test_engine_chooses_its_answerer_once_from_qa_llm(tmp_path: Path) -> None:
    offline = Engine(Settings(data_dir=tmp_path / "a"))
    model = Engine(Settings(data_dir=tmp_path / "b", llm="openai", openai_base_url="http://x/v1"))
    assert isinstance(offline.answerer, ExtractiveAnswerer)
    assert isinstance(model.answerer, LLMAnswerer)


def test_no_qa_module_but_the_package_and_cli_imports_the_engine() -> None:
    importers = set()
    for f in (ROOT / "qa").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if "qa.engine" in names:
                importers.add(f.name)
    assert importers <= {"__init__.py", "cli.py"}


class FirstPassage:
    """The README's third answerer: quote the best passage whole."""

    def __init__(self, retrieve, texts, embed) -> None:  # type: ignore[no-untyped-def]
        self.retrieve, self.texts = retrieve, texts
        self.asked: list[tuple[str, History, int]] = []

    def stream(self, question: str, history: History, top_k: int) -> Iterator[StreamEvent]:
        self.asked.append((question, history, top_k))
        p = self.retrieve(question, top_k)[0]
        c = Citation(1, p.source, p.path, p.text, p.start, p.end, p.page, p.score)
        yield p.text
        yield Answer(question, f"{p.text} [1]", True, [c])


def test_a_third_answerer_gets_a_clean_question_and_real_parts(corpus_engine: Engine) -> None:
    engine = Engine(corpus_engine.settings)
    engine.answerer = first = FirstPassage(engine.retrieve, engine.document_texts, engine.embed)
    answer = engine.ask("  Who was\x00 extradited?\n", history=None)
    assert first.asked == [("Who was extradited?", [], engine.settings.top_k)]
    c = answer.citations[0]
    assert first.texts().text(c.path)[c.start : c.end] == c.quote
    engine.close()


def _three_page_pdf(path: Path) -> Path:
    c = Canvas(str(path), pagesize=letter)
    c.setFont("Helvetica", 10)
    for body in ["The north pier opened in May.", "The south pier closed.", "Dredging ends."]:
        c.drawString(72, 700, body)
        c.showPage()
    c.save()
    return path


def test_document_texts_give_the_loaders_pages_up_to_the_end_of_the_text(make_engine, tmp_path):
    pdf = _three_page_pdf(tmp_path / "harbour.pdf")
    loaded = load(pdf)
    engine = make_engine()
    engine.ingest([pdf])
    texts = engine.document_texts()
    doc = texts.get(str(pdf.resolve()))
    assert doc is not None and doc.text == loaded.text
    for offset in [0, loaded.text.index("south"), len(loaded.text) - 1, len(loaded.text)]:
        assert doc.page_at(offset) == loaded.page_at(offset)
    assert doc.page_at(len(doc.text)) == 3  # the end of the text is on the last page
    assert texts.page_at("harbour.pdf", loaded.text.index("Dredging")) == 3  # by name too
    assert texts.get(str(tmp_path / "never-ingested.txt")) is None


def test_document_texts_read_each_document_once(corpus_engine: Engine) -> None:
    reads: list[str] = []
    texts = type(corpus_engine.document_texts())(
        lambda path: reads.append(path) or corpus_engine.store.document_text(path)
    )
    path = corpus_engine.sources()[0].path
    assert texts.text(path) == texts.text(path) == corpus_engine.document_text(path)
    assert reads == [path]


def test_uploads_accept_exactly_the_formats_the_loaders_read() -> None:
    from index.loaders import _READERS
    from ui import uploads

    assert SUPPORTED == tuple(_READERS) == uploads.ALLOWED
    assert uploads.check("notes.rtf", 10, 1.0) is not None
    assert all(uploads.check(f"a{ext}", 10, 1.0) is None for ext in SUPPORTED)


def test_environment_defaults_fill_only_what_the_user_left_unset(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    set_env()
    assert os.environ["HF_HUB_OFFLINE"] == "0"  # the user's value stays
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"
    cache = Path(os.environ["TIKTOKEN_CACHE_DIR"])
    assert cache.is_dir() and any(cache.iterdir())  # cl100k_base ships there: no download


def test_a_query_on_torch_leaves_the_process_threads_alone() -> None:
    """8 chats may embed at once: a query must not change what every other caller runs on."""
    import torch

    from index.embeddings import get_encoder

    encoder = get_encoder("torch")
    if torch.get_num_threads() < 2:
        pytest.skip("one thread: nothing to change")
    before, seen, model = torch.get_num_threads(), [], encoder.model  # type: ignore[attr-defined]

    def watched(*inputs):  # type: ignore[no-untyped-def]
        seen.append(torch.get_num_threads())  # what any other caller runs on meanwhile
        return model(*inputs)

    encoder.model = watched  # type: ignore[attr-defined]
    try:
        assert len(encoder.encode(["a short query"])[0]) == 384
    finally:
        encoder.model = model  # type: ignore[attr-defined]
    assert seen == [before] and torch.get_num_threads() == before
