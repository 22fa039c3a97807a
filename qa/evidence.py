"""What the winning candidate answer's own sentence says about it, beyond its type.

A phrase of the asked type is not yet an answer: "Interviewer:" labels a speaker, "France's"
qualifies another noun, a quoted nickname ("known as "El Narco"") names no place. When the
best the evidence offers is such a form, the documents likely do not say the answer: the
refusal calibrator reads these properties of the winner (general properties of the text,
learned weights; nothing here refuses by itself).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.candidates import Candidate
from qa.units import Sentence

WINNER_FEATURES: tuple[str, ...] = ("not_content",)

# A short quoted span: a nickname, a title, a slogan ("nicknamed “The Boss”").
_QUOTED = re.compile(r"[\"“‘«]([^\"“”‘’«»]{1,60})[\"”’»]")
_POSSESSIVE_END = re.compile(r"['’]s?$")


def not_content(text: str, cand: Candidate) -> float:
    """1 when the phrase is a form around content, not content: a speaker's or heading's
    label ("Interviewer: ..."), a possessive qualifying another noun ("France's election"),
    or a quoted phrase (a nickname, a title: "known as "El Narco""); else 0."""
    after = text[cand.end : cand.end + 2]
    if after.startswith(":") and not text[: cand.start].strip(" \"“'‘"):
        return 1.0
    if cand.ctype == "name" and _POSSESSIVE_END.search(cand.text):
        return 1.0
    return float(
        any(
            m.start(1) <= cand.start and cand.end <= m.end(1) and len(m.group(1).split()) <= 6
            for m in _QUOTED.finditer(text)
        )
    )


def winner_evidence(units: Sequence[Sentence], winner: tuple[int, Candidate]) -> list[float]:
    """The WINNER_FEATURES of the chosen candidate (unit index, phrase)."""
    i, cand = winner
    return [not_content(units[i].text, cand)]
