"""Is a claim stated by one sentence of the retrieved passages? Scores, whatever the model did.

A model's reply is cut into claims (sentences, list items); each claim is compared with every
sentence of the retrieved passages, read whole from the documents. Support combines:

- recall: the share of the claim's content words (stems) and numbers that the sentence holds;
- meaning: cosine of the two embeddings (all-MiniLM-L6-v2, the index's own model).

A number or name (capitalised word) the sentence does not hold, or a recall under MIN_RECALL,
caps the score below the threshold: a wrong figure or name is the commonest invention of a
small model, and cosine barely notices it. The threshold
(SUPPORT_THRESHOLD) was calibrated on the dev sets by `python -m bench.support_calibration`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa import extractive

Embed = Callable[[list[str]], list[list[float]]]

# Calibrated on the dev sets (README "LLM answer checks"): see bench/support_calibration.py.
SUPPORT_THRESHOLD = 0.72
RECALL_WEIGHT = 0.5  # the rest is cosine
MIN_RECALL = 0.5  # and at least half the claim's content words must be in the sentence
SHORT_CLAIM_TERMS = 3  # a claim with fewer content words is read together with the question
CANDIDATES = 12  # sentences embedded per claim (the best by recall)

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_CAPITALISED = re.compile(r"\b[^\W\d_a-z][\w'’\-]*")
_MARKERS = re.compile(r"\[\s*(?:(?:passages?|sources?|docs?)\s*)?[#\d][\d\s,;&\-–#and]*\]", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•]+|\d{1,2}[.)])\s+")
_ABBREV = frozenset(
    "mr mrs ms dr st jr sr prof gen sen rep gov no vs etc inc corp lt col jan feb mar apr jun jul"
    " aug sep sept oct nov dec".split()
)
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)\]]*(?:\s*\[[^\]\n]{0,12}\])*\s+|\s*\n+\s*")


@dataclass(frozen=True)
class Support:
    """The best sentence for a claim: `sentence` is an exact span of its document."""

    sentence: extractive.Sentence
    score: float
    recall: float
    cosine: float


def plain(text: str) -> str:
    """A claim without citation markers, list bullets or doubled spaces."""
    text = " ".join(_BULLET.sub("", _MARKERS.sub(" ", text)).split())
    return re.sub(r"\s+(?=[.,;:!?])", "", text)


def numbers(text: str) -> set[str]:
    return {m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)}


def names(text: str) -> set[str]:
    """Stems of the capitalised words (names, places, titles), sentence starts included."""
    return set(extractive.terms(" ".join(_CAPITALISED.findall(text))))


def content(text: str) -> set[str]:
    """Content-word stems and numbers: what a claim asserts."""
    return set(extractive.terms(text)) | numbers(text)


def split_claims(text: str) -> tuple[list[str], str]:
    """Complete claims of a growing reply, and the unfinished rest (kept for later)."""
    claims, cut = [], 0
    for m in _BOUNDARY.finditer(text):
        before = text[cut : m.start()].rsplit(None, 1)
        word = before[-1].lower().rstrip(".") if before else ""
        if "\n" not in m.group() and (word in _ABBREV or (len(word) == 1 and word.isalpha())):
            continue  # "Dr. Smith", "U. S." go on
        if "\n" not in m.group() and re.search(r"\b[a-z]\.[a-z]$", word):
            continue  # "u.s", "e.g"
        claims.append(text[cut : m.end()])
        cut = m.end()
    return [c for c in claims if re.search(r"\w", plain(c))], text[cut:]


_WH_NUMBER = re.compile(
    r"\bhow (?:many|much|long|far|old)\b"
    r"|\b(?:what|which) (?:number|percentage|amount|total|share)\b",
    re.IGNORECASE,
)
_WH_DATE = re.compile(r"\bwhen\b|\b(?:what|which) (?:year|date|day|month|time)\b", re.I)
_WH_NAME = re.compile(
    r"\b(?:who|whom|whose|where)\b|\b(?:what|which) (?:country|city|state|team|company|"
    r"person|player|club|nation|place)\b",
    re.IGNORECASE,
)
_DATE_WORD = re.compile(
    r"\b(?:1[6-9]|20)\d\d\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d"
    r"|\b\d{1,2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|\b(?:mon|tues|wednes|thurs"
    r"|fri|satur|sun)day\b|\byesterday\b|\btoday\b",
    re.IGNORECASE,
)
_NUMBER_WORD = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|dozen)s?\b",
    re.IGNORECASE,
)


def says_what_is_asked(question: str, text: str) -> bool:
    """The text holds the kind of thing the question asks for (a number for "how many", a
    date for "when", a name for "who") that the question itself does not already give."""
    text = plain(text)
    if _WH_NUMBER.search(question):
        return bool(_NUMBER_WORD.search(text))
    if _WH_DATE.search(question):
        return bool(_DATE_WORD.search(text))
    if _WH_NAME.search(question):
        return bool(names(text) - content(question))
    return True


def recall(claim_terms: set[str], sentence_terms: set[str]) -> float:
    return len(claim_terms & sentence_terms) / len(claim_terms) if claim_terms else 0.0


def best_support(
    claim: str, question: str, sentences: Sequence[extractive.Sentence], embed: Embed
) -> Support | None:
    """The sentence that best supports `claim` (None when no sentence shares a word with it)."""
    wanted = content(claim)
    fixed = numbers(claim) | names(claim)  # what a sentence must hold word for word
    if not wanted or not sentences:
        return None
    scored = []
    for s in sentences:
        have = content(s.text)
        r = recall(wanted, have)
        if r > 0:
            scored.append((r, not fixed <= have, s))
    if not scored:
        return None
    scored.sort(key=lambda x: x[0], reverse=True)
    top = scored[:CANDIDATES]
    query = claim if len(wanted) >= SHORT_CLAIM_TERMS else f"{question} {claim}"
    vectors = embed([query, *(s.text for _, _, s in top)])
    best: Support | None = None
    for (r, missing_fact, s), v in zip(top, vectors[1:], strict=True):
        cos = sum(a * b for a, b in zip(vectors[0], v, strict=True))
        score = RECALL_WEIGHT * r + (1 - RECALL_WEIGHT) * cos
        if missing_fact or r < MIN_RECALL:
            score = min(score, 0.5 * SUPPORT_THRESHOLD)
        if best is None or score > best.score:
            best = Support(s, score, r, cos)
    return best
