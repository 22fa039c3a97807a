"""Question analysis, done once per question: what it asks for, its key terms, its period.

Every feature of the answer selector compares a unit or a candidate answer with this
profile, so the rules that read a question live here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from index.store import STOPWORDS

_WORD = re.compile(r"\w[\w'’\-]*")
_POSSESSIVE = re.compile(r"['’]s?$")
_CAP = r"[^\W\d_a-z][\w’'\-]+"
NAME = re.compile(rf"(?<![.!?:]\s)(?<!^)\b{_CAP}(?:\s+{_CAP})*")
YEAR = re.compile(r"\b(?:1[6-9]|20)\d{2}\b")

_PERSON = (
    "person|people|man|woman|judge|president|leader|official|officials|agent|minister|secretary"
    "|spokes(?:man|woman|person)|lawyer|attorney|expert|analyst|commentator|chancellor|head"
    "|founder|founders|brothers|director|governor|senator|ambassador|names?|ceo|chairman|coach"
    "|player|winner|champion|author|singer|actor|actress|company|team|club|organi[sz]ation"
    "|firm|brand|band|group|party|manufacturer|developer|publisher|studio"
    "|movie|film|song|album|book|game|show|series|novel|product|device|headset|car|model"
)
_PLACE = "country|city|cities|state|place|prison|airport|town|region|area|border|court|venue"
_AMOUNT = "number|percentage|percent|amount|rate|share|proportion|price|cost|total|sum|figure"
_MONEY = (
    r"revenue|revenues|income|sales|cost|costs|expenses?|cash|profit|loss|earnings|margin"
    r"|spend|spent|paid|pay|price|worth|value|valuation|dividend|debt|eps|capex|assets"
)
_WH = r"\b(?:what|which)\b(?:\s+[\w'’\-]+){0,3}?\s+"
# "who" asks only as the question's first question word; after "which ..." it is relative
# ("in which part ... are the lawmen based who advised ...").
_FIRST_WHO = r"^(?:(?!\b(?:what|which|where|when|how|why)\b).)*\bwho(?:m|se)?\b"
_MANY_THINGS = re.compile(r"\b(?:how|why|describe|explain|compare|discuss|relate)\b", re.I)

_QUARTER = re.compile(
    r"\bq([1-4])\b|\b(first|second|third|fourth)[- ]quarter\b|\bquarter ended\b", re.I
)
_MONTHS_ENDED = re.compile(r"\b(three|six|nine|twelve)[- ]months?\b", re.I)
_FISCAL = re.compile(r"\bfiscal(?: year)?\s*((?:19|20)\d{2})\b|\bfy\s?((?:19|20)?\d{2})\b", re.I)
_ORDINAL = {"first": "1", "second": "2", "third": "3", "fourth": "4"}
_MONTHS_Q = {"three": "3", "six": "6", "nine": "9", "twelve": "12"}


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    """Porter, from snowballstemmer: `import nltk` drags in scipy and pandas."""
    import snowballstemmer

    return lru_cache(maxsize=65536)(snowballstemmer.stemmer("porter").stemWord)


def terms(text: str) -> list[str]:
    """Stemmed content words, in order."""
    stem = _stemmer()
    words = (_POSSESSIVE.sub("", w.lower()).strip("'’-") for w in _WORD.findall(text))
    return [stem(w) for w in words if w and w not in STOPWORDS]


def periods(text: str) -> set[str]:
    """Reporting periods named in a text: quarters ("q2"), "3m"/"6m" spans, fiscal years."""
    found = set()
    for m in _QUARTER.finditer(text):
        if m.group(1):
            found.add("q" + m.group(1))
        elif m.group(2):
            found.add("q" + _ORDINAL[m.group(2).lower()])
    for m in _MONTHS_ENDED.finditer(text):
        found.add(_MONTHS_Q[m.group(1).lower()] + "m")
    for m in _FISCAL.finditer(text):
        found.add("fy" + (m.group(1) or m.group(2))[-2:])
    return found


def answer_kind(question: str) -> str:
    """What the question asks for: age, number, date, name, place, or other."""
    q = question.lower()
    if re.search(r"\bhow old\b|\bwhat age\b", q):
        return "age"
    if re.search(rf"\bhow (many|much|long|far|often)\b|{_WH}(?:{_AMOUNT})\b", q):
        return "number"
    if re.search(rf"\bwhen\b|{_WH}(?:year|date|day|month|time|decade|century)\b(?!-)", q):
        return "date"
    if re.search(r"\b(?i:what|which) (?i:parts?) of (?:the )?[A-Z]", question):
        return "place"  # "in which part of the US": a region of a named place
    if re.search(
        rf"{_FIRST_WHO}|{_WH}(?:{_PERSON})\b|\bwhat is \w+(?:'s)? name\b"
        r"|\bwhat(?:'s| is| was)\b[^?]{0,30}['’]s (?:\w+ )?name\b",  # "Dr. Lee's first name"
        q,
    ):
        return "name"
    if re.search(rf"\bwhere\b|{_WH}(?:{_PLACE})\b", q):
        return "place"
    if re.search(rf"^\W*what (?:is|was|were|are)\b[^?]*\b(?:{_MONEY})\b", q):
        return "number"
    return "other"


def number_kind(question: str) -> str:
    """For a number question: money, percent, or a count."""
    q = question.lower()
    if re.search(r"\bhow (?:long|far|often)\b", q):
        return "count"  # a span of time, a distance: "how long did he spend in prison"
    if re.search(r"\bpercent|\bpercentage\b|\brate\b|\bshare of\b|\bproportion\b", q):
        return "percent"
    if re.search(rf"\bhow much\b|\b(?:{_MONEY})\b|\$", q):
        return "money"
    return "count"


@dataclass(frozen=True)
class QuestionProfile:
    """A question read once: the kind of answer it wants and what evidence must share."""

    text: str
    terms: frozenset[str]  # the question's and any carried context's: what evidence may share
    asked: frozenset[str]  # the question's own: a phrase made of these is no answer
    kind: str  # age | number | date | name | place | other
    subkind: str  # money | percent | count | year | date | "" (none)
    keys: frozenset[str]  # years, numbers and proper nouns (as stems)
    years: frozenset[str]
    periods: frozenset[str]
    focus: str | None  # the head noun of "which X" / "how many X", as a stem
    head: str | None  # the noun after "which"/"what", generic ones ("cities") too (head_term)
    names: tuple[str, ...]  # the names the question itself is about (question_names)
    wants_short: bool  # asks for one thing: a name, a date, a figure

    @property
    def typed(self) -> bool:
        return self.kind != "other"


_WH_HEAD = re.compile(r"\b(?:how (?:many|much)|which|what)\s+((?:[\w’'\-]+\s+){0,3})", re.I)
_GENERIC = """date year day month time decade century number amount percentage percent total
figure city country state place town region area person name kind type part one"""
_AFTER_HEAD = frozenset(
    "is are was were did do does will would has have had of in on for to by".split()
)


def _head_words(m: re.Match[str]) -> list[str]:
    words = []
    for w in m.group(1).split():
        if w.lower() in _AFTER_HEAD:
            break
        words.append(w)
    return words


def head_term(question: str) -> str | None:
    """The noun after "which"/"what", generic ones ("city", "country") included, as a stem."""
    m = _WH_HEAD.search(question)
    found = terms(" ".join(_head_words(m))) if m else []
    return found[-1] if found else None


def focus_term(question: str) -> str | None:
    """The noun a "which X" / "how many X" question is about, as a stem."""
    m = _WH_HEAD.search(question)
    if not m:
        return None
    words = _head_words(m)
    if len(words) == 1 and words[0].lower().endswith("ed"):
        return None  # "what happened": a verb, not a head noun
    found = terms(" ".join(words))
    if not found or found[-1] in set(terms(_GENERIC)):
        return None
    return found[-1]


def key_terms(question: str) -> set[str]:
    """Years, numbers and proper nouns of the question."""
    keys = {m.group().lower().replace(",", "") for m in re.finditer(r"\b\d[\d,]*\b", question)}
    for m in NAME.finditer(question):
        keys.update(terms(m.group()))
    return keys


_CARRIED = re.compile(r"(.+?\?)\s+(\S.*)$", re.S)


_QNAME = re.compile(
    r"[A-Z][\w'’.&-]*(?:(?:\s+(?:of|the|de|del|and|of the)\s+|\s*:\s+|\s+)[A-Z0-9][\w'’.&-]*)*"
)
_PERIOD_LIKE = re.compile(r"(?:Q[1-4]|H[12]|FY)\b|\d")  # "Q1 2023", "10-Q": periods, forms
_NOT_NAMES = frozenset("what which who whom whose when where why how name year date".split())


def question_names(question: str) -> list[str]:
    """The names the question is about ("the NFL", "Ocarina of Time"), past its first word."""
    first = re.match(r"\W*\S+", question)
    skip = first.end() if first else 0
    names = [m.group() for m in _QNAME.finditer(question, skip)]
    return [n for n in names if n.lower() not in _NOT_NAMES and not _PERIOD_LIKE.match(n)]


def split_context(text: str) -> tuple[str, str]:
    """(question, context): a resolved follow-up carries the previous answer's sentence
    after its question mark (qa.followup); that sentence may hold the answer, so its names
    must not count as already asked."""
    m = _CARRIED.match(text)
    return (m.group(1), m.group(2)) if m else (text, "")


@lru_cache(maxsize=256)
def profile(text: str) -> QuestionProfile:
    question, context = split_context(text)
    kind = answer_kind(question)
    if kind == "number":
        sub = number_kind(question)
    elif kind == "date":
        sub = "year" if re.search(rf"{_WH}year\b|\bwhat year\b", question.lower()) else "date"
    else:
        sub = ""
    many = bool(_MANY_THINGS.search(question)) and kind in ("other", "number") and sub != "count"
    if re.search(r"\bhow (much|many|long|old|far|often)\b", question, re.I):
        many = False
    asked = frozenset(terms(question))
    return QuestionProfile(
        text=text,
        terms=asked | frozenset(terms(context)),
        asked=asked,
        kind=kind,
        subkind=sub,
        keys=frozenset(key_terms(question)),
        years=frozenset(YEAR.findall(question)),
        periods=frozenset(periods(question)),
        focus=focus_term(question),
        head=head_term(question),
        names=tuple(question_names(question)),
        wants_short=kind != "other" and not many,
    )
