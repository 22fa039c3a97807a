"""Candidate answers inside a sentence: names, dates, years, amounts, percentages, counts.

Spans are found with patterns (no NER model: the ask path stays light) and kept as exact
offsets into the sentence, so the chosen one becomes a citation whose quote is the phrase.
`type_match` says how well a candidate's type fits what the question asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.store import STOPWORDS
from qa.profile import QuestionProfile, terms

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_YEAR = r"(?:1[6-9]|20)\d{2}"
_ORDINAL = (
    r"(?:(?:twenty|thirty)[- ])?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)"
    r"|tenth|eleventh|twelfth|(?:thir|four|fif|six|seven|eigh|nine)teenth|twentieth|thirtieth"
)
_DATE = re.compile(
    rf"\b(?:the\s+)?(?:{_ORDINAL})\s+of\s+{_MONTH}(?:,?\s+{_YEAR})?\b"
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+{_YEAR})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?\b"
    rf"|\b{_MONTH}\s+{_YEAR}\b",
    re.I,
)
_TIME = re.compile(
    r"\b\d{1,2}:\d{2}\s?(?:[ap]\.?m\.?)?(?!\d)|\b\d{1,2}(?:\.\d{2})?\s?[ap]\.?m\.?(?!\w)|\bnoon\b"
    r"|\bmidnight\b",
    re.I,
)
_DAY = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b"
    r"|\b(?:yesterday|today|tomorrow|tonight)\b|\b(?:last|next|this) (?:week|month|year)\b",
    re.I,
)
_YEAR_RE = re.compile(rf"\b{_YEAR}s?\b")
_SCALE = r"(?:\s?(?:million|billion|trillion|thousand|bn|mn|m|b|k)\b)?"
_MONEY = re.compile(
    rf"(?:US)?[$€£¥]\s?\d[\d,]*(?:\.\d+)?{_SCALE}|\b\d[\d,]*(?:\.\d+)?{_SCALE}\s?"
    r"(?:dollars|euros|pounds|usd|eur)\b",
    re.I,
)
_PERCENT = re.compile(r"\b\d[\d,]*(?:\.\d+)?\s?(?:%|percent\b|per cent\b|percentage points?\b)")
_NUMBER = re.compile(
    r"\b\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|trillion|thousand)\b)?"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|hundred|dozen)"
    r"(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?\b",
    re.I,
)
# Codes and code names ("Z-40", "F-35", "COVID-19"): names, found before their digits are
# read as numbers. Quarters and fiscal years ("Q2", "FY-23") are periods, not names.
_CODE = re.compile(r"\b(?!(?:Q|FY)-?\d)[A-Z][A-Za-z]{0,3}-\d{1,4}[A-Za-z]?\b")
_AGE = re.compile(r"\b\d{1,3}[- ]years?[- ]old\b|\baged?\s+\d{1,3}\b", re.I)
_CAPWORD = r"(?:[^\W\d_a-z][\w’'\-.&]*[\w’'])"
_LINK = r"(?:\s+(?:of|de|del|da|van|von|der|la|le|the|and|&)\s+|\s+)"
_NAME = re.compile(rf"\b{_CAPWORD}(?:{_LINK}{_CAPWORD})*")
_TITLE_WORDS = frozenset(
    "mr mrs ms dr sir president ceo the a an in on at for and but of by to from with this that "
    "these those his her their its our we he she they it january february march april may june "
    "july august september october november december monday tuesday wednesday thursday friday "
    "saturday sunday i i'm i’m i've i’ve i'll i’ll i'd i’d".split()
)

#: How well a candidate type answers each (kind, subkind) of question, 0..1.
_MATCH: dict[str, dict[str, float]] = {
    "date": {"date": 1.0, "year": 0.8, "time": 0.8, "day": 0.8},
    "date:year": {"year": 1.0, "date": 0.7},
    "number:money": {"money": 1.0, "number": 0.6, "percent": 0.2},
    "number:percent": {"percent": 1.0, "number": 0.5},
    "number:count": {"number": 1.0, "money": 0.5, "percent": 0.4},
    "age": {"age": 1.0},  # a bare number is no age: "29" (people) for "how old"
    "name": {"name": 1.0},
    "place": {"name": 1.0},
}


@dataclass(frozen=True)
class Candidate:
    start: int  # offsets into the sentence text
    end: int
    text: str
    ctype: str  # date | time | day | year | money | percent | number | age | name


def _spans(text: str) -> list[Candidate]:
    found: list[Candidate] = []
    taken: list[tuple[int, int]] = []

    def add(s: int, e: int, ctype: str) -> None:
        while e > s and text[e - 1] in ".,;: ":
            e -= 1
        if e <= s or any(s < te and ts < e for ts, te in taken):
            return
        taken.append((s, e))
        found.append(Candidate(s, e, text[s:e], ctype))

    for pattern, ctype in (
        (_AGE, "age"),
        (_DATE, "date"),
        (_TIME, "time"),
        (_DAY, "day"),
        (_MONEY, "money"),
        (_PERCENT, "percent"),
    ):
        for m in pattern.finditer(text):
            add(*m.span(), ctype)
    for m in _CODE.finditer(text):
        add(*m.span(), "name")
    for m in _YEAR_RE.finditer(text):
        add(*m.span(), "year")
    for m in _NUMBER.finditer(text):
        add(*m.span(), "number")
    for m in _NAME.finditer(text):
        words = [(w.start(), w.group()) for w in re.finditer(r"\S+", m.group())]
        while words and words[0][1].lower().strip(".") in _TITLE_WORDS:
            words = words[1:]  # "The", "President": not part of the name
        if words and not all(w.lower() in STOPWORDS | _TITLE_WORDS for _, w in words):
            add(m.start() + words[0][0], m.end(), "name")
    return sorted(found, key=lambda c: c.start)


def extract(text: str) -> list[Candidate]:
    """Every candidate answer span in a sentence, without overlaps, in reading order."""
    return _spans(text)


def type_match(profile: QuestionProfile, cand: Candidate) -> float:
    """0..1: how well the candidate's type answers the question's kind."""
    key = f"{profile.kind}:{profile.subkind}" if profile.subkind else profile.kind
    table = _MATCH.get(key) or _MATCH.get(profile.kind) or {}
    return table.get(cand.ctype, 0.0)


TOKEN = re.compile(r"\w[\w'’\-.,]*\w|\w|[$%]")  # a word, a figure with its commas, $ or %


def noun_at(stem: str, text: str, cand: Candidate) -> float:
    """How near a word of `stem` (its first five letters) stands to the candidate in `text`:
    1 inside or beside it, 1/(1+gap) a gap of words away, 0 when the text lacks it."""
    spans = [(m.start(), terms(m.group())) for m in TOKEN.finditer(text)]
    at = [k for k, (_, ts) in enumerate(spans) if any(t[:5] == stem[:5] for t in ts)]
    if not at:
        return 0.0
    lo = sum(s < cand.start for s, _ in spans)
    hi = sum(s < cand.end for s, _ in spans)
    gap = min(0 if lo <= k < hi else (lo - k if k < lo else k - hi + 1) for k in at)
    return 1.0 / (1 + gap)


def in_question(profile: QuestionProfile, cand: Candidate) -> float:
    """Share of the candidate's words the question already says (1.0: not an answer)."""
    words = terms(cand.text) or [cand.text.lower()]
    keys = profile.asked | profile.keys
    return sum(w in keys for w in words) / len(words)


def normal(text: str) -> str:
    """A key that makes "$6.04 billion" and "$6.04 Billion" the same answer."""
    return " ".join(re.sub(r"[^\w$%.]+", " ", text.lower()).replace(",", "").split())


_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_DAY_NUM = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\b(?!\s*(?:,\s*)?\d{3})")
_NUM_VALUE = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9}
_SCALES |= {"bn": 1e9, "b": 1e9, "trillion": 1e12}


def date_parts(text: str) -> tuple[str | None, str | None, str | None]:
    """(month, day, year) of a date phrase, each None when the phrase does not say it."""
    low = text.lower()
    month = next((m for m in _MONTHS if re.search(rf"\b{m}", low)), None)
    year = _YEAR_RE.search(text)
    rest = _YEAR_RE.sub(" ", text)
    day = _DAY_NUM.search(rest)
    return month, day.group(1).lstrip("0") if day else None, year.group()[:4] if year else None


def value_key(cand: Candidate) -> tuple[str, ...]:
    """What a candidate says, spelling aside: date parts, a number's value, a name's words."""
    if cand.ctype in ("date", "year"):
        m, d, y = date_parts(cand.text)
        return ("date", m or "", d or "", y or "")
    if cand.ctype in ("money", "number", "percent"):
        num = _NUM_VALUE.search(cand.text)
        if num:
            value = float(num.group().replace(",", ""))
            scale = re.search(r"(thousand|million|billion|trillion|bn|mn|[mbk])\b", cand.text, re.I)
            value *= _SCALES.get(scale.group(1).lower(), 1.0) if scale else 1.0
            return ("num", f"{value:.6g}")
    return ("text", normal(cand.text))


def agrees(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two value keys name the same thing (a date agrees with a fuller or vaguer form of it)."""
    if a[0] != b[0]:
        return False
    if a[0] != "date":
        return a == b
    shared = [(x, y) for x, y in zip(a[1:], b[1:], strict=True) if x and y]
    return bool(shared) and all(x == y for x, y in shared)


def specificity(cand: Candidate) -> float:
    """0..1: how much of a full answer a date or amount states ("May 2012" < "May 15, 2012")."""
    if cand.ctype in ("date", "year"):
        return sum(p is not None for p in date_parts(cand.text)) / 3
    if cand.ctype in ("day", "time"):
        return 1 / 3  # "Sunday", "7:45": the day or hour without the date
    return 1.0
