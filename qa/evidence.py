"""What a candidate answer's own sentence and the evidence say about it, beyond its type.

A phrase of the asked type is not yet an answer: "Interviewer:" labels a speaker, "France's"
qualifies another noun, a quoted nickname ("known as "El Narco"") names no prison, "the Cold
War" after "during" is a period, not a film, and "former executive Mike Durbin" is not the
new CEO. When the best the evidence offers is such a form, or a name standing far from the
asked noun ("which *cities*"), the documents likely do not say the answer: the refusal
calibrator reads these properties of the winner (WINNER_FEATURES). A name the evidence says
as a person's is a poor answer to a where-question, and a one-word "name" the evidence also
says in lower case ("Thank you") is a common word: the candidate ranker reads those
(RANKER_FEATURES). All are general properties of the text with learned weights; nothing here
refuses by itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.candidates import Candidate, noun_at
from qa.profile import QuestionProfile
from qa.units import Sentence

WINNER_FEATURES: tuple[str, ...] = ("not_content", "head_at")

# A short quoted span: a nickname, a title, a slogan ("nicknamed “The Boss”").
_QUOTED = re.compile(r"[\"“‘«]([^\"“”‘’«»]{1,60})[\"”’»]")
_FORMER_WORD = re.compile(r"\b(?:former|ex-|onetime|erstwhile|previous|then)\b", re.I)
# "former" within the three words before a name: it no longer holds the role it is named by
_FORMER = re.compile(r"\b(?:former|ex-|onetime|erstwhile)\s*(?:\S+\s+){0,3}$", re.I)
_DURING = re.compile(r"\b(?:during|amid|amidst)\s+(?:the\s+)?$", re.I)  # a period or event
_POSSESSIVE_END = re.compile(r"['’]s?$")


def content_form(prof: QuestionProfile, text: str, cand: Candidate) -> str | None:
    """The form around content the phrase is, not the thing asked for, or None: a speaker's
    or heading's label ("Interviewer: ..."), a possessive qualifying another noun ("France's
    election"), a quoted phrase (a nickname, a title: "known as "El Narco""), a name after
    "during"/"amid" (a period or an event: "set during the Cold War"), or one described as
    "former" when the question asks for no former one ("former Fidelity executive Mike
    Durbin" for the new CEO)."""
    if text[cand.end : cand.end + 1] == ":" and not text[: cand.start].strip(" \"“'‘"):
        return "a speaker's or heading's label"
    before = text[: cand.start]
    if cand.ctype == "name":
        if _POSSESSIVE_END.search(cand.text):
            return "a possessive"
        if _DURING.search(before):
            return "a period or event"
        if _FORMER.search(before[-60:]) and not _FORMER_WORD.search(prof.text):
            return "a former holder"
    for m in _QUOTED.finditer(text):
        if m.start(1) <= cand.start and cand.end <= m.end(1) and len(m.group(1).split()) <= 6:
            return "a quoted nickname or title"
    return None


def not_content(prof: QuestionProfile, text: str, cand: Candidate) -> float:
    """1 when the phrase is a form around content (`content_form`), else 0."""
    return float(content_form(prof, text, cand) is not None)


def head_at(prof: QuestionProfile, text: str, cand: Candidate) -> float:
    """How near the asked noun, generic ones included ("which *cities*"), stands to a name
    answer: 1 beside it, 1/(1+gap) further, 0 when the sentence lacks it; 1 for questions
    without such a noun or answers that are no names."""
    if prof.kind not in ("name", "place") or prof.head is None or cand.ctype != "name":
        return 1.0
    return noun_at(prof.head, text, cand)


def winner_evidence(
    prof: QuestionProfile, units: Sequence[Sentence], winner: tuple[int, Candidate]
) -> list[float]:
    """The WINNER_FEATURES of the chosen candidate (unit index, phrase)."""
    i, cand = winner
    return [not_content(prof, units[i].text, cand), head_at(prof, units[i].text, cand)]


RANKER_FEATURES: tuple[str, ...] = ("person_for_place", "common_word")
# A person stands after a title or role, or before a verb of saying.
_TITLED = re.compile(
    r"\b(?:mr|mrs|ms|dr|sir|president|senator|sen|governor|gov|judge|minister|secretary|general"
    r"|ceo|chairman|chairwoman|director|executive|founder|leader|chief|spokes(?:man|woman|person)"
    r"|agent|officer|official|lawyer|attorney|actor|actress|player|coach)\.?\s+$",
    re.I,
)
_SAYS_AFTER = re.compile(r"^,?\s+(?:said|says|told|added|stated|who)\b", re.I)


def _mentions(texts: Sequence[str], phrase: str) -> list[tuple[str, str]]:
    """(the 40 characters before, the 20 after) each mention of `phrase` in `texts`."""
    out = []
    for text in texts:
        for m in re.finditer(rf"(?<!\w){re.escape(phrase)}(?!\w)", text):
            out.append((text[max(0, m.start() - 40) : m.start()], text[m.end() : m.end() + 20]))
    return out


def person_for_place(prof: QuestionProfile, texts: Sequence[str], cand: Candidate) -> float:
    """1 when a place is asked and the evidence somewhere says the name as a person's: after
    a title or role ("President Donald Trump") or before a verb of saying ("Trump said");
    0 otherwise (other questions, other candidates)."""
    if prof.kind != "place" or cand.ctype != "name":
        return 0.0
    seen = _mentions(texts, cand.text)
    return float(any(_TITLED.search(b) or _SAYS_AFTER.match(a) for b, a in seen))


def common_word(lower: set[str], cand: Candidate) -> float:
    """1 for a one-word name the evidence also says in lower case ("Thank you", "Despite
    ..."): a common word capitalised at a sentence's start, no name."""
    word = cand.text.strip("'’")
    return float(cand.ctype == "name" and " " not in word and word.lower() in lower)


def ranker_evidence(
    prof: QuestionProfile, units: Sequence[Sentence], found: Sequence[tuple[int, Candidate]]
) -> list[list[float]]:
    """The RANKER_FEATURES of each candidate (unit index, phrase), read over all the units."""
    texts = list(dict.fromkeys(u.text for u in units))
    lower = {w for t in texts for w in re.findall(r"\b[a-z][\w’'\-]*", t)}
    seen: dict[str, list[float]] = {}
    for _, c in found:
        if c.text not in seen:
            seen[c.text] = [person_for_place(prof, texts, c), common_word(lower, c)]
    return [seen[c.text] for _, c in found]
