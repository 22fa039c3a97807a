"""Documents as readers see them: whole sentences from PDFs, tables as labelled rows.

Each PDF is drawn here with reportlab at known positions; each test pins the exact text
the loader returns (every citation offset points into it) and the exact offsets.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reportlab.pdfgen.canvas import Canvas

from index import loaders
from index.errors import LoadError
from index.loaders import load


def _canvas(path: Path) -> Canvas:
    from reportlab.lib.pagesizes import letter

    c = Canvas(str(path), pagesize=letter)
    c.setFont("Helvetica", 10)
    return c


def _lines(c: Canvas, lines: list[str], top: float = 700, pitch: float = 12) -> None:
    for i, text in enumerate(lines):
        c.drawString(72, top - i * pitch, text)


def test_pdf_paragraph_lines_are_joined_into_whole_sentences(tmp_path: Path) -> None:
    c = _canvas(tmp_path / "p.pdf")
    _lines(
        c,
        [
            "Operating expenses for the second quarter of fiscal year 2024 were primarily",
            "driven by compensation and benefits, including stock-based compensation,",
            "reflecting employee growth and compensation increases.",
        ],
    )
    _lines(c, ["A second paragraph starts after a gap."], top=640)
    c.save()
    doc = load(tmp_path / "p.pdf")
    sentence = (
        "Operating expenses for the second quarter of fiscal year 2024 were primarily driven"
        " by compensation and benefits, including stock-based compensation, reflecting"
        " employee growth and compensation increases."
    )
    assert doc.text == sentence + "\nA second paragraph starts after a gap."
    assert doc.text[0 : len(sentence)] == sentence
    assert [(p.page, p.start, p.end) for p in doc.pages] == [(1, 0, len(doc.text))]


def test_pdf_word_hyphenated_at_a_line_end_is_made_whole(tmp_path: Path) -> None:
    c = _canvas(tmp_path / "h.pdf")
    _lines(
        c,
        [
            "The board approved the acquisition of the com-",
            "pany for cash, a well-known supplier of the group.",
        ],
    )
    c.save()
    text = load(tmp_path / "h.pdf").text
    assert text == (
        "The board approved the acquisition of the company for cash, a well-known supplier"
        " of the group."
    )
    assert text.index("company") == 42


def test_pdf_running_header_and_page_numbers_are_dropped(tmp_path: Path) -> None:
    c = _canvas(tmp_path / "r.pdf")
    bodies = ["The north pier opened in May.", "The south pier closed in June.", "Dredging ends."]
    for number, body in enumerate(bodies, start=1):
        c.drawString(72, 750, "Harbour Authority | Quarterly Report 2023")
        _lines(c, [body])
        c.drawCentredString(306, 40, str(number))
        c.showPage()
    c.save()
    doc = load(tmp_path / "r.pdf")
    assert doc.text == "\n\n".join(bodies)
    assert [(p.page, p.start, p.end) for p in doc.pages] == [(1, 0, 29), (2, 31, 61), (3, 63, 77)]
    assert doc.page_at(doc.text.index("south")) == 2


def test_pdf_sentence_running_over_a_page_break_stays_whole(tmp_path: Path) -> None:
    c = _canvas(tmp_path / "b.pdf")
    _lines(c, ["Revenue grew in every segment, driven by", "higher demand for data centre"])
    c.showPage()
    _lines(c, ["products and services.", "Margins held."])
    c.save()
    doc = load(tmp_path / "b.pdf")
    first = "Revenue grew in every segment, driven by higher demand for data centre"
    assert doc.text == f"{first} products and services.\nMargins held."
    assert [(p.page, p.start, p.end) for p in doc.pages] == [
        (1, 0, len(first)),
        (2, len(first) + 1, len(doc.text)),
    ]


def test_pdf_financial_table_with_two_header_rows_becomes_labelled_rows(tmp_path: Path) -> None:
    c = _canvas(tmp_path / "t.pdf")
    c.drawString(72, 720, "Stock-based compensation by line item")
    c.drawCentredString(430, 700, "Three Months Ended")
    c.drawCentredString(388, 688, "July 30, 2023")
    c.drawCentredString(468, 688, "July 31, 2022")
    rows = [("Cost of revenue", "38", "27"), ("Stock-based compensation expense", "1,576", "1,226")]
    for i, (label, a, b) in enumerate(rows):
        y = 674 - 12 * i
        c.drawString(72, y, label)
        if i == 0:
            c.drawString(356, y, "$")
            c.drawString(436, y, "$")
        c.drawRightString(400, y, a)
        c.drawRightString(480, y, b)
    c.drawString(72, 630, "Amounts are unaudited.")
    c.save()
    doc = load(tmp_path / "t.pdf")
    row = (
        "Stock-based compensation expense — Three Months Ended July 30, 2023: 1,576;"
        " July 31, 2022: 1,226"
    )
    assert doc.text == (
        "Stock-based compensation by line item\n"
        "Cost of revenue — Three Months Ended July 30, 2023: $38; July 31, 2022: $27\n"
        f"{row}\n"
        "Amounts are unaudited."
    )
    start = doc.text.index(row)
    assert (start, start + len(row)) == (114, 114 + len(row))
    assert doc.text[start - 1] == "\n" and doc.text[start + len(row)] == "\n"


def test_docx_table_between_paragraphs_keeps_document_order(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("Fleet summary for the year.")
    table = d.add_table(rows=3, cols=3)
    cells = [["", "2023", "2022"], ["Cranes", "14", "12"], ["Tugs", "6", "5"]]
    for r, row in enumerate(cells):
        for k, text in enumerate(row):
            table.rows[r].cells[k].text = text
    d.add_paragraph("Two cranes were bought in March.")
    d.save(str(tmp_path / "f.docx"))
    text = load(tmp_path / "f.docx").text
    assert text == (
        "Fleet summary for the year.\n"
        "Cranes — 2023: 14; 2022: 12\n"
        "Tugs — 2023: 6; 2022: 5\n"
        "Two cranes were bought in March."
    )
    assert text.index("Tugs — 2023: 6; 2022: 5") == 56


def test_html_table_with_caption_spans_and_dollar_cells(tmp_path: Path) -> None:
    (tmp_path / "t.html").write_text(
        "<html><body><p>Results follow.</p><table>"
        "<caption>Net sales (in millions)</caption>"
        "<tr><th></th><th colspan=4>Three Months Ended</th></tr>"
        "<tr><th></th><th colspan=2>April 1, 2023</th><th colspan=2>March 26, 2022</th></tr>"
        "<tr><td>Products</td><td>$</td><td>73,929</td><td>$</td><td>77,457</td></tr>"
        "<tr><td>Services</td><td></td><td>20,907</td><td></td><td>19,821</td></tr>"
        "</table><p>Services grew 5%.</p></body></html>"
    )
    text = load(tmp_path / "t.html").text
    assert text == (
        "Results follow.\n"
        "Net sales (in millions)\n"
        "Products — Three Months Ended April 1, 2023: $73,929; March 26, 2022: $77,457\n"
        "Services — Three Months Ended April 1, 2023: 20,907; March 26, 2022: 19,821\n"
        "Services grew 5%."
    )


def test_pdf_with_an_array_past_pypdf_default_limit_loads(tmp_path: Path) -> None:
    """A valid file holding a 150,000-element array (as some 10-Q filings do) is read."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, NameObject, NumberObject

    c = _canvas(tmp_path / "small.pdf")
    _lines(c, ["The filing is valid."])
    c.save()
    writer = PdfWriter(clone_from=PdfReader(tmp_path / "small.pdf"))
    writer.pages[0][NameObject("/PieceInfoBig")] = ArrayObject([NumberObject(0)] * 150_000)
    with open(tmp_path / "big.pdf", "wb") as fh:
        writer.write(fh)
    assert load(tmp_path / "big.pdf").text == "The filing is valid."


def test_pdf_safety_limit_is_told_apart_from_corruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from index import pdf

    c = _canvas(tmp_path / "two.pdf")
    for body in ("Page one.", "Page two."):
        _lines(c, [body])
        c.showPage()
    c.save()
    monkeypatch.setattr(pdf, "MAX_PAGES", 1)
    with pytest.raises(LoadError, match=r"^PDF over a safety limit: 2 pages \(at most 1"):
        load(tmp_path / "two.pdf")
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<\x00garbage\n%%EOF")
    with pytest.raises(LoadError, match=r"^corrupt PDF"):
        load(tmp_path / "bad.pdf")
    assert loaders.LOADER_VERSION >= 5


def test_pdf_two_column_page_reads_down_the_left_column_first(tmp_path: Path) -> None:
    c = _canvas(tmp_path / "cols.pdf")
    c.drawString(72, 740, "Field notes from the northern survey")
    left = [
        "The survey team reached the ridge",
        "before noon and counted nineteen",
        "nesting pairs along the cliff edge.",
        "Weather held through the afternoon.",
        "Camp was made beside the old cairn.",
    ]
    right = [
        "On the second day the team walked",
        "south along the shore and found",
        "the tidal pools full of young fish.",
        "Rain arrived late in the evening.",
        "The boat returned them on Friday.",
    ]
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        c.drawString(72, 700 - 12 * i, a)
        c.drawString(320, 700 - 12 * i, b)
    c.save()
    text = load(tmp_path / "cols.pdf").text
    assert text.startswith("Field notes from the northern survey\n")
    assert text.index("nineteen nesting pairs") < text.index("On the second day")
    assert "counted nineteen nesting pairs along the cliff edge." in text
    assert "found the tidal pools full of young fish." in text
