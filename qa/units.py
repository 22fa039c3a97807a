"""Answer units: the sentences around the retrieved passages, with exact document offsets.

Each line of document text is a unit boundary (a PDF loader renders a table row as one
line), and sentences are split inside lines. A unit keeps its passage and that passage's
fused rank (not a ranker feature: by cross-validation it cost answers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.types import Passage

_ABBREV = frozenset(
    "mr mrs ms dr st jr sr prof gen sen rep gov u.s u.k no vs etc inc corp lt col".split()
)
_SENT_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
CONTEXT_CHARS = 400  # read this far around a passage so chunk edges never cut a sentence


@dataclass(frozen=True)
class Sentence:
    passage: Passage
    rank: int  # rank of its passage, 1-based
    start: int  # offsets into the document text
    end: int
    text: str


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets in `text`: lines first, then sentence ends, no empties."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        base, body = line.start(), line.group()
        cut = 0
        for m in _SENT_END.finditer(body):
            before = body[cut : m.start()].rsplit(None, 1)
            word = before[-1].lower().rstrip(".") if before else ""
            if word in _ABBREV or (len(word) == 1 and word.isalpha()):
                continue
            end = m.start() + len(m.group().rstrip())
            spans.append((base + cut, base + end))
            cut = m.end()
        spans.append((base + cut, base + len(body)))
    out = []
    for s, e in spans:
        seg = text[s:e]
        s += len(seg) - len(seg.lstrip())
        e -= len(seg) - len(seg.rstrip())
        if e - s >= 3:
            out.append((s, e))
    return out


def passage_sentences(
    passages: Sequence[Passage], doc_text: Callable[[str], str | None]
) -> list[Sentence]:
    """Whole sentences around each passage, read from the document so chunk edges don't cut them."""
    found: dict[tuple[str, int, int], Sentence] = {}
    for rank, p in enumerate(passages, start=1):
        text = doc_text(p.path)
        if text is None:
            window, base = p.text, p.start
        else:
            lo, hi = max(0, p.start - CONTEXT_CHARS), min(len(text), p.end + CONTEXT_CHARS)
            window, base = text[lo:hi], lo
        for s, e in sentence_spans(window):
            start, end = base + s, base + e
            overlap = min(end, p.end) - max(start, p.start)
            if overlap <= 0.5 * (end - start):
                continue
            key = (p.path, start, end)
            if key not in found:
                found[key] = Sentence(p, rank, start, end, window[s:e])
    return list(found.values())
