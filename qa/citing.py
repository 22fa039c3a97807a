"""Exact citations for checked claims, and the small readers of a model's raw reply.

Citer holds the sentences of the retrieved passages (read whole from the documents, so
chunk edges don't cut them) and numbers the ones cited, 1..n in order of first citation.
A sentence is cited only when it is exactly its document's text at its offsets. Invariant:
quote == document_text[start:end]. Which sentence supports a claim is qa.support's call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from qa import extractive
from qa.answerer import Embed
from qa.texts import DocumentTexts
from qa.types import REFUSAL_TEXT, Citation, Passage

_CITED = re.compile(r"\[(\d+)\]")
_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
_CONTRAST = re.compile(r"\b(?:but|however|although|though|yet|except|only)\b", re.IGNORECASE)
_REFUSAL = re.compile(
    r"\b(?:could ?not|couldn't|can ?not|can't|cannot|unable to|was not able to)\s+"
    r"(?:find|locate|determine|answer|tell)"
    r"|\b(?:passages?|documents?|context|sources?|texts?)\s+(?:do|does|did)\s*(?:not|n't)\s+"
    r"(?:contain|mention|say|include|provide|state|specify|answer|cover)"
    r"|\bnot (?:found|mentioned|stated|given|provided|in) (?:in )?the (?:passages?|documents?|"
    r"context|sources?)|\bno (?:information|mention)\b",
    re.IGNORECASE,
)


class Citer:
    """The retrieved passages' sentences, and the numbered, verified Citations of an answer."""

    def __init__(
        self, passages: list[Passage], question: str, texts: DocumentTexts, embed: Embed
    ) -> None:
        self.passages = passages
        self.question = question
        self.citations: list[Citation] = []
        self.texts = texts
        self._embed_texts = embed
        self._numbers: dict[tuple[str, int, int], int] = {}
        self._sentences: dict[int, list[extractive.Sentence]] = {}
        self._vectors: dict[str, list[float]] = {}

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embeddings, each text once per answer (a passage's sentences serve many claims)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self._embed_texts(missing), strict=True))
        return [self._vectors[t] for t in texts]

    _embed = embed

    def sentences(self) -> list[extractive.Sentence]:
        """Every sentence of every passage, each an exact span of its document text."""
        out: list[extractive.Sentence] = []
        for n, passage in enumerate(self.passages, start=1):
            if n not in self._sentences:
                self._sentences[n] = self._passage_sentences(passage)
            out += self._sentences[n]
        return out

    def _passage_sentences(self, passage: Passage) -> list[extractive.Sentence]:
        return extractive.passage_sentences([passage], self.texts.text)

    def cite_sentence(self, s: extractive.Sentence, score: float) -> int | None:
        """The citation number of sentence `s` (None when it is not an exact document span)."""
        text = self.texts.text(s.passage.path)
        if text is None or text[s.start : s.end] != s.text:
            return None
        return self._number(s.passage, s.start, s.end, s.text, score)

    def _number(self, p: Passage, start: int, end: int, quote: str, score: float) -> int:
        key = (p.path, start, end)
        if key not in self._numbers:
            self._numbers[key] = len(self.citations) + 1
            page = self.texts.page_at(p.path, start)
            self.citations.append(
                Citation(
                    n=self._numbers[key],
                    source=p.source,
                    path=p.path,
                    quote=quote,
                    start=start,
                    end=end,
                    page=p.page if page is None else page,
                    score=round(score, 4),
                )
            )
        return self._numbers[key]


def strip_thinking(deltas: Iterable[str]) -> Iterator[str]:
    """Drop a leading <think>…</think> block that some reasoning models put in the content."""
    stream = iter(deltas)
    head = ""
    for delta in stream:
        head += delta
        lead = head.lstrip()
        if len(lead) < 7 and "<think>".startswith(lead):
            continue  # too short to tell yet
        if lead.startswith("<think>"):
            if "</think>" not in lead:
                continue
            lead = lead.split("</think>", 1)[1].lstrip()
            if not lead:
                continue
        yield lead
        yield from stream  # decided: the rest passes through untouched
        return


def is_refusal(text: str, cited: bool) -> bool:
    """The model said the passages do not hold the answer (not: a partial, cited answer)."""
    plain = " ".join(_CITED.sub("", text).split()).replace("’", "'")

    def norm(s: str) -> str:
        return re.sub(r"\W+", " ", s).strip().lower()

    if not plain or norm(plain) == norm(REFUSAL_TEXT):
        return True
    sentences = _BREAK.split(plain)
    if not _REFUSAL.search(sentences[0]):
        return False
    # "Not in the passages [1]." is a refusal; "They don't say why, but 29 went [1]." is not
    return not cited or (len(sentences) == 1 and not _CONTRAST.search(plain))
