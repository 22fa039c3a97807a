"""The offline answerer: pick the sentences that answer, cite each as an exact span, or refuse.

A sentence is scored on meaning (cosine with the question), on the question's rare words
it contains, and on whether it holds the kind of thing asked for (a date for "when", a
number for "how many", a name for "who") that the question itself does not already say.
Refusal is the honest default: when the best sentence is weak, or the question names a
year, number or proper noun that none of the evidence mentions, corpus-qa says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from index.store import STOPWORDS
from qa.types import REFUSAL_TEXT, Citation, Passage

# Calibrated on eval/gold.jsonl (see README "Refusal calibration"): the lowest score that
# keeps unanswerable questions refused while answerable ones are not.
MIN_SCORE = 0.30
MIN_KEY_COVERAGE = 0.5
MAX_SENTENCES = 2
SECOND_SENTENCE_RATIO = 0.9

_WORD = re.compile(r"\w[\w'’\-]*")
_POSSESSIVE = re.compile(r"['’]s?$")
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(
    rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}|\d{{1,2}}\s+(?:{_MONTHS})|(?:1[6-9]|20)\d{{2}}"
    r"|\d{1,2}:\d{2}(?:\s?[ap]\.?m\.?)?|\d{1,2}\s?[ap]\.?m\.?|noon|midnight"
    r"|(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?|yesterday|today"
    r"|last (?:week|month|year)|this (?:week|month|year))\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen)s?\b",
    re.IGNORECASE,
)
_CAP = r"[^\W\d_a-z][\w’'\-]+"
_AGE = re.compile(r"\b\d{1,3}[- ]years?[- ]old\b|\baged?\s+\d{1,3}\b|\(\d{1,3}\)", re.I)
_NAME = re.compile(rf"(?<![.!?:]\s)(?<!^)\b{_CAP}(?:\s+{_CAP})*")
_ABBREV_TEXT = "mr mrs ms dr st jr sr prof gen sen rep gov u.s u.k no vs etc inc corp lt col"
_ABBREV = frozenset(_ABBREV_TEXT.split())
_SENT_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")


@dataclass(frozen=True)
class Sentence:
    passage: Passage
    rank: int  # rank of its passage, 1-based
    start: int  # offsets into the document text
    end: int
    text: str


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    score: float
    semantic: float
    lexical: float
    cue: float


@dataclass(frozen=True)
class Extracted:
    text: str
    answered: bool
    citations: list[Citation]
    best_score: float


# ---- sentences with offsets -----------------------------------------------------------------
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
            text, base = p.text, p.start
            window = text
        else:
            lo, hi = max(0, p.start - 400), min(len(text), p.end + 400)
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


# ---- scoring -------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    """Porter, from snowballstemmer: `import nltk` drags in scipy and pandas (1.5 s per cold
    `qa ask`); this imports in milliseconds."""
    import snowballstemmer

    return lru_cache(maxsize=65536)(snowballstemmer.stemmer("porter").stemWord)


def terms(text: str) -> list[str]:
    stem = _stemmer()
    words = (_POSSESSIVE.sub("", w.lower()).strip("'’-") for w in _WORD.findall(text))
    return [stem(w) for w in words if w and w not in STOPWORDS]


_PERSON = (
    "person|people|man|woman|judge|president|leader|official|officials|agent|minister|secretary"
    "|spokes(?:man|woman|person)|lawyer|attorney|expert|analyst|commentator|chancellor|head"
    "|founder|founders|brothers|director|governor|senator|ambassador|names?"
)
_PLACE = "country|city|cities|state|place|prison|airport|town|region|area|border|court"
_AMOUNT = "number|percentage|percent|amount|rate|share|proportion|price|cost|total|sum|figure"


def answer_kind(question: str) -> str:
    """What the question asks for, so a sentence without such a thing cannot be its answer."""
    q = question.lower()
    wh = r"\b(?:what|which)\b(?:\s+\w+){0,2}?\s+"
    if re.search(r"\bhow old\b|\bwhat age\b", q):
        return "age"
    if re.search(rf"\bhow (many|much|long|far|often)\b|{wh}(?:{_AMOUNT})\b", q):
        return "number"
    if re.search(rf"\bwhen\b|{wh}(?:year|date|day|month|time|decade|century)\b", q):
        return "date"
    if re.search(rf"\bwho(m|se)?\b|{wh}(?:{_PERSON})\b|\bwhat is \w+(?:'s)? name\b", q):
        return "name"
    if re.search(rf"\bwhere\b|{wh}(?:{_PLACE})\b", q):
        return "place"
    return "other"


_WH_HEAD = re.compile(r"\b(?:how (?:many|much)|which|what)\s+((?:[\w’'\-]+\s+){0,3})", re.I)
# Heads that name the answer's type, not its topic: "what date", "which city" are answered
# by a date or a city name, and the evidence need not contain the word itself.
_GENERIC_TEXT = """date year day month time decade century number amount percentage percent total
figure city country state place town region area person name kind type part one"""


@lru_cache(maxsize=1)
def _generic() -> frozenset[str]:
    """Head nouns too general to demand in the evidence, as stems (so any stemmer fits)."""
    return frozenset(terms(_GENERIC_TEXT))


_AFTER_HEAD = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "did",
        "do",
        "does",
        "will",
        "would",
        "has",
        "have",
        "had",
        "of",
        "in",
        "on",
        "for",
        "to",
        "by",
    ]
)


def focus_term(question: str) -> str | None:
    """The noun a "which X" / "how many X" question is about: evidence must mention it."""
    m = _WH_HEAD.search(question)
    if not m:
        return None
    words = []
    for w in m.group(1).split():
        if w.lower() in _AFTER_HEAD:
            break
        words.append(w)
    if len(words) == 1 and words[0].lower().endswith("ed"):
        return None  # "what happened", "which passed": a verb, not a head noun
    found = terms(" ".join(words))
    if not found or found[-1] in _generic():
        return None
    return found[-1]


def key_terms(question: str) -> set[str]:
    """Years, numbers and proper nouns of the question: evidence that lacks them is off-topic."""
    keys = {m.group().lower().replace(",", "") for m in re.finditer(r"\b\d[\d,]*\b", question)}
    for m in _NAME.finditer(question):
        keys.update(terms(m.group()))
    return keys


def _cue(kind: str, sentence: str, q_terms: set[str]) -> float:
    if kind == "other":
        return 0.0
    if kind == "date":
        hits = [m.group() for m in _DATE.finditer(sentence)]
    elif kind == "age":
        hits = [m.group() for m in _AGE.finditer(sentence)]
    elif kind == "number":
        hits = [m.group() for m in _NUMBER.finditer(sentence)]
    else:  # a name or a place: a proper noun the question does not already give
        hits = [m.group() for m in _NAME.finditer(sentence)]
    return 1.0 if any(set(terms(h)) - q_terms for h in hits) else 0.0


def score_sentences(
    question: str, sentences: Sequence[Sentence], embed: Callable[[list[str]], list[list[float]]]
) -> list[Scored]:
    if not sentences:
        return []
    vectors = embed([question] + [s.text for s in sentences])
    qv = vectors[0]
    q_terms = set(terms(question))
    sent_terms = [set(terms(s.text)) for s in sentences]
    n = len(sentences)
    idf = {t: math.log(1 + n / (1 + sum(t in st for st in sent_terms))) for t in q_terms}
    total = sum(idf.values()) or 1.0
    kind = answer_kind(question)
    scored = []
    for s, st, sv in zip(sentences, sent_terms, vectors[1:], strict=True):
        semantic = sum(a * b for a, b in zip(qv, sv, strict=True))
        lexical = sum(idf[t] for t in q_terms & st) / total
        cue = _cue(kind, s.text, q_terms)
        novelty = len(st - q_terms)
        score = 0.55 * semantic + 0.3 * lexical + 0.1 * cue + 0.05 / s.rank
        if novelty == 0:
            continue  # says nothing the question does not (a headline, a dateline)
        if novelty < 2:
            score -= 0.15  # barely more than the question: rarely the answer
        scored.append(Scored(s, score, semantic, lexical, cue))
    return sorted(scored, key=lambda x: x.score, reverse=True)


def key_coverage(question: str, evidence: str) -> float:
    keys = key_terms(question)
    if not keys:
        return 1.0
    have = set(terms(evidence)) | {
        m.group().replace(",", "") for m in re.finditer(r"\d[\d,]*", evidence)
    }
    return len(keys & have) / len(keys)


# ---- the answer ----------------------------------------------------------------------------
def answer(
    question: str,
    passages: Sequence[Passage],
    embed: Callable[[list[str]], list[list[float]]],
    doc_text: Callable[[str], str | None],
    *,
    page_of: Callable[[str, int], int | None] = lambda path, offset: None,
    min_score: float = MIN_SCORE,
) -> Extracted:
    ranked = score_sentences(question, passage_sentences(passages, doc_text), embed)
    if not ranked:
        return Extracted(REFUSAL_TEXT, False, [], 0.0)
    kind, focus = answer_kind(question), focus_term(question)
    if kind != "other":
        # "How many…" is not answered by a sentence without a number, however close.
        ranked = [s for s in ranked if s.cue] or ranked[:1]
    if focus:
        # "Which judge…" is not answered by a passage that never mentions a judge.
        ranked = [s for s in ranked if focus in terms(s.sentence.passage.text)] or ranked[:1]
    best = ranked[0]
    evidence = " ".join({s.sentence.passage.text for s in ranked[:3]})
    if (
        best.score < min_score
        or (kind != "other" and not best.cue)
        or (focus and focus not in terms(best.sentence.passage.text))
        or key_coverage(question, evidence) < MIN_KEY_COVERAGE
    ):
        return Extracted(REFUSAL_TEXT, False, [], best.score)
    chosen = [best]
    for cand in ranked[1:]:
        if len(chosen) >= MAX_SENTENCES or cand.score < SECOND_SENTENCE_RATIO * best.score:
            break
        if (cand.cue or best.cue == 0) and not any(_same_content(cand, c) for c in chosen):
            chosen.append(cand)
    parts, citations = [], []
    for n, sc in enumerate(chosen, start=1):
        s = sc.sentence
        parts.append(f"{s.text} [{n}]")
        citations.append(
            Citation(
                n=n,
                source=s.passage.source,
                path=s.passage.path,
                quote=s.text,
                start=s.start,
                end=s.end,
                page=page_of(s.passage.path, s.start),
                score=round(sc.score, 4),
            )
        )
    return Extracted(" ".join(parts), True, citations, best.score)


def _same_content(a: Scored, b: Scored) -> bool:
    ta, tb = set(terms(a.sentence.text)), set(terms(b.sentence.text))
    return len(ta & tb) >= 0.6 * min(len(ta), len(tb) or 1)
