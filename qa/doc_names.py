"""Whether a unit's document is about what the question names.

Retrieval over many filings often returns a passage of another company that answers a
similar question ("Interest expense was ..." from another 10-Q for an Intel question). A
document that never says the question's names, when another retrieved one is about them,
is not evidence for it: its units are dropped before the selector reads them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from qa.profile import profile
from qa.units import Sentence

_PERIODISH = re.compile(r"(?:Q[1-4]|H[12]|FY)\b|\d")  # "Q1", "2023", "10-Q": periods, forms
ABOUT = 2  # a document that says a name more than in passing is (in part) about it
_POSSESSIVE = re.compile(r"(?<=\w)['’]s?$")


def subjects(question: str) -> list[str]:
    """The question's names, each cut before its first period word and at its possessive:
    "NVIDIA's Q1 2023 10-Q" → "NVIDIA", "Microsoft's AR" → "Microsoft"."""
    out = []
    for name in profile(question).names:
        words = []
        for w in name.split():
            if _PERIODISH.match(w):
                break
            words.append(w)
            if _POSSESSIVE.search(w):
                break
        if words:
            phrase = _POSSESSIVE.sub("", " ".join(words))
            if len(phrase) > 1:
                out.append(phrase)
    return list(dict.fromkeys(out))


def _plain(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )


def _count(name: str, text: str) -> int:
    """Whole-word mentions, case and accents aside: each letter of the name may stand
    accented in the text ("Trevino" finds "Treviño", and "Treviño" finds "Trevino")."""
    letters = (
        f"[{re.escape(ch)}\u00c0-\u024f]" if ch.isalpha() else re.escape(ch) for ch in _plain(name)
    )
    return len(re.findall(rf"(?<!\w){''.join(letters)}(?!\w)", text, re.I))


def off_subject(
    question: str, units: list[Sentence], doc_text: Callable[[str], str | None]
) -> list[bool]:
    """Per unit: its document says none of the question's names that another retrieved
    document is about (says ABOUT times or more). All False when no document is about any."""
    names = subjects(question) if units else []
    if not names:
        return [False] * len(units)
    counts: dict[str, list[int]] = {}
    for u in units:
        if u.passage.path not in counts:
            text = doc_text(u.passage.path) or u.passage.text
            counts[u.passage.path] = [_count(n, text) for n in names]
    about = [k for k in range(len(names)) if max(c[k] for c in counts.values()) >= ABOUT]
    return [bool(about) and not any(counts[u.passage.path][k] for k in about) for u in units]
