"""The offline answerer: cite the sentences that answer and the answer phrase, or refuse.

The evidence (units around the retrieved passages, candidate answers in them, their
features) is gathered by qa.features; the learned selector (qa.selector, weights trained
and cross-validated by `python -m eval.train_selector`) decides in qa.decide. This module
turns the decision into cited text: every quote is an exact span of its document.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from qa.answerer import Embed, Retrieve, Texts, words
from qa.decide import decide
from qa.features import gather
from qa.profile import answer_kind, focus_term, key_terms, terms
from qa.questions import condense
from qa.selector import Selector, load_selector
from qa.texts import DocumentTexts
from qa.types import REFUSAL_TEXT, Answer, Citation, History, Passage, StreamEvent
from qa.units import Sentence, passage_sentences, sentence_spans

__all__ = [
    "Extracted",
    "ExtractiveAnswerer",
    "Scored",
    "Sentence",
    "answer",
    "answer_kind",
    "focus_term",
    "key_terms",
    "passage_sentences",
    "score_sentences",
    "sentence_spans",
    "terms",
]


class ExtractiveAnswerer:
    """The offline answerer: follow-ups resolved offline, then cited sentences or a refusal."""

    def __init__(self, retrieve: Retrieve, texts: Texts, embed: Embed) -> None:
        self.retrieve, self.texts, self.embed = retrieve, texts, embed

    def stream(self, question: str, history: History, top_k: int) -> Iterator[StreamEvent]:
        t0 = time.perf_counter()
        search = condense(question, history)
        passages = self.retrieve(search, top_k)
        t1 = time.perf_counter()
        answer = self.answer(question, passages, search_query=search)
        answer.timings_ms.update(retrieve=(t1 - t0) * 1000, total=(time.perf_counter() - t0) * 1000)
        yield from words(answer.text)
        yield answer

    def answer(
        self,
        question: str,
        passages: list[Passage],
        *,
        search_query: str = "",
        texts: DocumentTexts | None = None,
    ) -> Answer:
        """The answer from already retrieved passages (also the LLM answerer's reference)."""
        t0 = time.perf_counter()
        texts = texts or self.texts()
        search = search_query or question
        result = answer(search, passages, self.embed, texts.text, page_of=texts.page_at)
        return Answer(
            question=question,
            text=result.text,
            answered=result.answered,
            citations=result.citations,
            short=result.short,
            refusal_reason=result.reason,
            mode="extractive",
            timings_ms={"answer": (time.perf_counter() - t0) * 1000},
            retrieved=passages,
            search_query=search,
        )


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    score: float
    semantic: float
    lexical: float


@dataclass(frozen=True)
class Extracted:
    text: str
    answered: bool
    citations: list[Citation]
    best_score: float
    short: Citation | None = None
    reason: str | None = None  # why it refused


def score_sentences(
    question: str, sentences: Sequence[Sentence], embed: Callable[[list[str]], Any]
) -> list[Scored]:
    """Sentences by closeness to a text (meaning and rare shared words): used to find the
    sentence a claim rests on (qa.citing), not to pick answers."""
    if not sentences:
        return []
    vectors = embed([question] + [s.text for s in sentences])
    qv = vectors[0]
    q_terms = set(terms(question))
    sent_terms = [set(terms(s.text)) for s in sentences]
    n = len(sentences)
    idf = {t: math.log(1 + n / (1 + sum(t in st for st in sent_terms))) for t in q_terms}
    total = sum(idf.values()) or 1.0
    scored = []
    for s, st, sv in zip(sentences, sent_terms, vectors[1:], strict=True):
        semantic = float(sum(a * b for a, b in zip(qv, sv, strict=True)))
        lexical = sum(idf[t] for t in q_terms & st) / total
        scored.append(Scored(s, 0.65 * semantic + 0.35 * lexical, semantic, lexical))
    return sorted(scored, key=lambda x: x.score, reverse=True)


def answer(
    question: str,
    passages: Sequence[Passage],
    embed: Callable[[list[str]], Any],
    doc_text: Callable[[str], str | None],
    *,
    page_of: Callable[[str, int], int | None] = lambda path, offset: None,
    selector: Selector | None = None,
) -> Extracted:
    ev = gather(question, passages, embed, doc_text)
    d = decide(ev, selector or load_selector())
    if not d.answered:
        return Extracted(REFUSAL_TEXT, False, [], d.probability, None, d.reason)
    parts, citations = [], []
    for n, i in enumerate(d.units, start=1):
        s = ev.units[i]
        parts.append(f"{s.text} [{n}]")
        citations.append(_citation(n, s, s.start, s.end, s.text, page_of, d.probability))
    short = None
    if d.short is not None:
        i, c = d.short
        s = ev.units[i]
        n = d.units.index(i) + 1
        short = _citation(n, s, s.start + c.start, s.start + c.end, c.text, page_of, d.probability)
    return Extracted(" ".join(parts), True, citations, d.probability, short)


def _citation(
    n: int,
    s: Sentence,
    start: int,
    end: int,
    quote: str,
    page_of: Callable[[str, int], int | None],
    score: float,
) -> Citation:
    return Citation(
        n=n,
        source=s.passage.source,
        path=s.passage.path,
        quote=quote,
        start=start,
        end=end,
        page=page_of(s.passage.path, start),
        score=round(score, 4),
    )
