"""Offline follow-ups: resolve a question that points back against the conversation.

"What is he accused of?" after "Who is Rafael Caro Quintero?" becomes "What is Rafael
Caro Quintero accused of?": personal pronouns take the conversation's latest named entity.
"When did that happen?" has nothing to substitute, so it carries the previous answer's
first cited sentence along (the previous question when that was refused): the search
finds that passage again and the answerer reads the date next to the words the earlier
answer used. The carried sentence follows the question mark, and the question profile
keeps it apart (qa.profile.split_context): its names may be the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.candidates import extract, in_question
from qa.features import closeness
from qa.profile import answer_kind, profile
from qa.types import REFUSAL_TEXT, Turn

_POINTS_BACK = re.compile(
    r"^\W*(and|but|so|also|what about|how about)\b|\b(it|its|that|this|they|them|"
    r"their|he|him|his|she|her|there|then|else)\b",
    re.I,
)
_PERSONAL = re.compile(r"\b(he|him|she|her|his|hers|they|them|their)\b", re.I)
_OPEN = re.compile(r"\b(that|this|it|then|there|else)\b", re.I)  # "those X": a determiner
_MARKER = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
_FIRST_SENTENCE = re.compile(r".+?(?:[.!?…](?=\s)|$)", re.S)
MAX_WORDS = 12  # longer questions stand on their own
CARRIED_CHARS = 240  # at most this much of the previous answer travels with the question


def points_back(question: str) -> bool:
    return len(question.split()) <= MAX_WORDS and bool(_POINTS_BACK.search(question))


def names(text: str) -> list[str]:
    """Named entities (capitalised spans) of a text, in order."""
    return [c.text for c in extract(text) if c.ctype == "name"]


def _answer_text(turn: str) -> str:
    text = _MARKER.sub("", turn).strip()
    return "" if text == REFUSAL_TEXT else text


def _resolve_one(question: str, subject: str | None, previous_answer: str, previous: str) -> str:
    if not points_back(question):
        return question
    out = question
    if subject and _PERSONAL.search(question):
        owner = subject + ("’" if subject.endswith("s") else "'s")
        out = _PERSONAL.sub(
            lambda m: owner if m.group().lower() in ("his", "her", "their", "hers") else subject,
            out,
            count=1,
        )
    if _OPEN.search(question) or out == question:
        # the previous answer's first sentence; when it was refused, the previous question
        first = _FIRST_SENTENCE.match(previous_answer or previous)
        carried = (first.group() if first else previous_answer or previous)[:CARRIED_CHARS]
        out = f"{out} {carried}" if carried else out
    return out


_ACRONYM = re.compile(r"^[A-Z.\-]+$")  # "U.S", "DEA": organisations, not a "he"
_WHO_IS = re.compile(r"^\W*who (?:is|was|are|were)\s+(?!the\b|a\b|an\b)", re.I)


def _subject(question: str, answer: str, before: str | None) -> str | None:
    """Whom a later "he"/"she" means: the person asked about ("Who is X?"), else the
    name a who-question was answered with, else the question's longest name."""
    asked = names(question)
    if _WHO_IS.search(question) and asked:
        return max(asked, key=len)
    if answer_kind(question) == "name" and answer:
        prof = profile(question)
        fresh = [
            c
            for c in extract(answer)
            if c.ctype == "name" and in_question(prof, c) < 0.5 and not _ACRONYM.match(c.text)
        ]
        if fresh:  # the name the question's words stand closest to
            return max(fresh, key=lambda c: closeness(prof, answer, c, {})[0]).text
    return max(asked, key=len) if asked else before


def resolve(question: str, history: Sequence[Turn]) -> str:
    """The standalone form of `question`, given the turns before it."""
    subject: str | None = None
    last_question, last_answer = "", ""
    for m in history:
        content = m.get("content") or ""
        if m.get("role") == "user":
            last_question = _resolve_one(content, subject, last_answer, last_question)
            last_answer = ""
        elif m.get("role") == "assistant":
            last_answer = _answer_text(content)
            subject = _subject(last_question, last_answer, subject)
    return _resolve_one(question, subject, last_answer, last_question)
