"""Every loader keeps the invariant: a citation's quote is document_text[start:end]."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.loaders import load
from qa import Engine, Settings


def _pdf(path: Path, pages: list[str]) -> Path:
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=letter)
    for text in pages:
        c.drawString(72, 700, text)
        c.showPage()
    c.save()
    return path


def _docx(path: Path, paragraphs: list[str]) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "Harbour report"
    for p in paragraphs:
        d.add_paragraph(p)
    table = d.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Cranes"
    table.rows[0].cells[1].text = "14"
    d.save(str(path))
    return path


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    (folder / "notes.txt").write_text("Intro line.\nThe lighthouse keeper is Ada Pell.\n")
    (folder / "guide.md").write_text("# Guide\n\nThe ferry leaves at 7:45 every morning.\n")
    (folder / "page.html").write_text(
        "<html><head><title>Bakery</title><script>alert('x')</script></head>"
        "<body><h1>Bakery</h1><p>The bakery sells rye bread on <b>Fridays</b>.</p></body></html>"
    )
    _pdf(folder / "atlas.pdf", ["The glacier is 40 km long.", "The summit hut sleeps 12 climbers."])
    _docx(folder / "harbour.docx", ["The harbour master is Tomas Reyes.", "Ships dock at pier 9."])
    return folder


@pytest.fixture(scope="module")
def mixed_engine(mixed: Path, tmp_path_factory: pytest.TempPathFactory):
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("mixed-index")))
    assert engine.ingest([mixed]).added == 5
    yield engine
    engine.close()


def test_html_loader_keeps_visible_text_only(mixed: Path) -> None:
    doc = load(mixed / "page.html")
    assert "rye bread on\nFridays" in doc.text or "rye bread on Fridays" in doc.text
    assert "alert" not in doc.text and "<" not in doc.text
    assert doc.title == "Bakery"


def test_pdf_loader_records_page_ranges(mixed: Path) -> None:
    doc = load(mixed / "atlas.pdf")
    assert [p.page for p in doc.pages] == [1, 2]
    second = doc.pages[1]
    assert doc.text[second.start : second.end] == "The summit hut sleeps 12 climbers."
    assert doc.page_at(doc.text.index("glacier")) == 1


def test_docx_loader_reads_paragraphs_tables_and_title(mixed: Path) -> None:
    doc = load(mixed / "harbour.docx")
    assert "The harbour master is Tomas Reyes." in doc.text
    assert "Cranes — 14" in doc.text  # a one-row table without headers: label — value
    assert doc.title == "Harbour report"


def test_txt_is_the_file_decoded_unchanged(tmp_path: Path) -> None:
    raw = "Caf\u00e9 \u2014 line one\r\nline two\n"
    (tmp_path / "a.txt").write_bytes(raw.encode("utf-8"))
    assert load(tmp_path / "a.txt").text == raw


@pytest.mark.parametrize(
    ("question", "source", "expected"),
    [
        ("Who is the lighthouse keeper?", "notes.txt", "Ada Pell"),
        ("When does the ferry leave?", "guide.md", "7:45"),
        ("Which day does the bakery sell rye bread?", "page.html", "Fridays"),
        ("How many climbers does the summit hut sleep?", "atlas.pdf", "12"),
        ("Who is the harbour master?", "harbour.docx", "Tomas Reyes"),
    ],
)
def test_every_format_answers_with_exact_spans(
    mixed_engine: Engine, question: str, source: str, expected: str
) -> None:
    engine = mixed_engine
    answer = engine.ask(question)
    assert answer.answered, answer
    assert expected in answer.text
    cited = answer.citations[0]
    assert cited.source == source
    assert engine.document_text(cited.path)[cited.start : cited.end] == cited.quote
    if source == "atlas.pdf":
        assert cited.page == 2
