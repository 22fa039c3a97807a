"""A question as the answerers receive it: checked, cleaned, and made standalone offline."""

from __future__ import annotations

import re

from qa.errors import InputError
from qa.followup import resolve
from qa.types import History

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_question(question: str, limit: int) -> str:
    """The question on one line, control characters gone; InputError when empty or too long."""
    if not isinstance(question, str):
        raise InputError("the question must be text")
    if len(question) > 20 * limit + 1000:  # refuse a flood before even scanning it
        raise InputError(f"the question is {len(question)} characters long; the limit is {limit}")
    q = " ".join(_CONTROL.sub(" ", _valid_unicode(question)).split())
    if not q:
        raise InputError("the question is empty")
    if len(q) > limit:
        raise InputError(f"the question is {len(q)} characters long; the limit is {limit}")
    return q


def _valid_unicode(text: str) -> str:
    """Lone surrogates (argv bytes that were not UTF-8, e.g. from a Latin-1 terminal) break
    the tokenizer and SQLite: read such bytes as cp1252, replace any other surrogate."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def condense(question: str, history: History) -> str:
    """Offline follow-up handling: the question made standalone against the conversation
    (its named entities and the previous answer's cited text; see qa.followup)."""
    return resolve(question, history)
