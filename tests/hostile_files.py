"""Real hostile files, written in a few hundred milliseconds: small on disk, huge once opened.

Shared by tests/test_reliability_hostile.py and bench/hostile.py. Each builder streams what it
writes, so making a bomb never needs the memory the bomb would take to open.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

PARAGRAPH = (
    "The quarterly ledger of the Brackwater mill records barley, oats and rye in equal "
    "measure, and the clerk signs each page before the harvest festival. "
)


def docx_bytes(*paragraphs: str) -> bytes:
    from docx import Document

    doc = Document()
    for p in paragraphs:
        doc.add_paragraph(p)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def docx_bomb(path: Path, text_mb: float) -> Path:
    """A valid DOCX whose word/document.xml holds `text_mb` MB of text (compressed ~200:1)."""
    base = zipfile.ZipFile(io.BytesIO(docx_bytes("Bomb start.")))
    xml = base.read("word/document.xml").decode("utf-8")
    head, _, tail = xml.partition("<w:body>")
    para = f"<w:p><w:r><w:t>{PARAGRAPH}</w:t></w:r></w:p>".encode()
    block = para * 1000
    rounds = max(1, int(text_mb * 2**20 / (len(PARAGRAPH) * 1000)))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in base.infolist():
            if info.filename != "word/document.xml":
                out.writestr(info, base.read(info.filename))
        with out.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write((head + "<w:body>").encode())
            for _ in range(rounds):
                fh.write(block)
            fh.write(tail.encode())
    return path


def nested_html(path: Path, depth: int) -> Path:
    """`depth` nested <div>s around one sentence: a few MB on disk, a deep tree in memory."""
    path.write_bytes(b"<html><body>" + b"<div>" * depth + b"Deep inside." + b"</div>" * depth)
    return path


def repetitive_html(path: Path, repeats: int = 20) -> Path:
    """A few KB of honest, repetitive HTML: compresses well, yet is an ordinary page."""
    rows = "".join(f"<p>{PARAGRAPH} Row {i}.</p>" for i in range(repeats))
    path.write_text(f"<html><head><title>Ledger</title></head><body>{rows}</body></html>")
    return path


def big_html(path: Path, mb: float) -> Path:
    """`mb` MB of real HTML text, written in blocks."""
    block = (f"<p>{PARAGRAPH}</p>\n" * 2000).encode()
    with open(path, "wb") as fh:
        fh.write(b"<html><body>")
        for _ in range(max(1, int(mb * 2**20 / len(block)))):
            fh.write(block)
        fh.write(b"</body></html>")
    return path


def pdf_stream_bomb(path: Path, stream_mb: float, filler: bytes = b" ") -> Path:
    """A one-page PDF whose content stream inflates to `stream_mb` MB (FlateDecode of
    `filler`, repeated) after a line of real text: a few hundred KB on disk."""
    head = b"BT /F1 12 Tf 72 720 Td (A page of a PDF stream bomb.) Tj ET\n"
    comp = zlib.compressobj(9)
    parts = [comp.compress(head)]
    block = filler * (2**20 // len(filler))
    for _ in range(int(stream_mb)):
        parts.append(comp.compress(block))
    parts.append(comp.flush())
    stream = b"".join(parts)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    path.write_bytes(out.getvalue())
    return path
