"""Features of answer units and candidate answers, compared with the question's profile.

Few and simple on purpose: the selector is trained on about two hundred questions and
must generalise to new ones, so each feature is a general property (meaning, shared rare
words, the asked-for type present, period agreement, boilerplate), never a word list of
a dev question. `Evidence` is everything the selector reads for one question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from qa import candidates as cands
from qa.context import neighbour_cosine
from qa.doc_names import off_subject
from qa.evidence import RANKER_FEATURES, WINNER_FEATURES, ranker_evidence
from qa.profile import (
    YEAR,
    QuestionProfile,
    periods,
    profile,
    terms,
)
from qa.types import Passage
from qa.units import Sentence, passage_sentences

UNIT_FEATURES: tuple[str, ...] = (
    "cosine",
    "overlap",
    "passage_overlap",
    "relation_in_sentence",
    "keys_in_sentence",
    "keys_in_passage",
    "head_in_passage",
    "type_present",
    "is_question",
    "fragment",
    "boilerplate",
    "period_agrees",
    "year_agrees",
    "length",
    "says_little",
    "name_extended",
    "neighbour_cosine",
)
CANDIDATE_FEATURES: tuple[str, ...] = (
    "type_match",
    "focus_closeness",
    "nearest_focus",
    "in_question",
    "support",
    "multiword",
    "modifier",
    "year_agrees",
    "specific",
    "focus_at",
    *RANKER_FEATURES,  # qa.evidence
    "unit_score",  # added by the selector: the candidate's sentence as the unit ranker sees it
)
# The refusal calibrator reads the winner's margin, these unit features and its evidence.
CALIBRATION_FROM_UNIT = (
    "cosine",
    "overlap",
    "passage_overlap",
    "relation_in_sentence",
    "keys_in_sentence",
    "keys_in_passage",
    "head_in_passage",
)
CALIBRATION_FEATURES: tuple[str, ...] = (
    "margin",
    *CALIBRATION_FROM_UNIT,
    "focus_closeness",
    "support",
    "focus_at",
    "focus_anywhere",
    *WINNER_FEATURES,  # qa.evidence: the winning candidate's own form (0 for untyped questions)
)

_BOILERPLATE = re.compile(
    r"forward[- ]looking statements?|pursuant to|\bexhibit \d|\bcertif(?:y|ies|ication)"
    r"|table of contents|securities exchange act|sarbanes|incorporated (?:herein )?by reference"
    r"|commission file number|indicate by check mark|all rights reserved|\bcopyright\b"
    r"|privacy policy|cookies?\b|subscribe|sign up|click here|read more|\bsee (?:note|part)\b",
    re.I,
)
_ELLIPSIS = re.compile(r"(?:\.\.\.|…)\s*$|^\W*(?:\.\.\.|…)")
MOSTLY_ASKED = 0.5  # a phrase half made of the question's own words is not its answer


@dataclass
class Evidence:
    """One question's units and candidates with their features (rows align with lists)."""

    profile: QuestionProfile
    units: list[Sentence]
    unit_x: list[list[float]]
    candidates: list[tuple[int, cands.Candidate]]  # (unit index, candidate)
    candidate_x: list[list[float]]  # without the unit logit, which the selector adds


def _agreement(asked: set[str] | frozenset[str], said: set[str]) -> float:
    """+1 when the unit names an asked period, -1 when it names only others, 0 when none."""
    if not asked or not said:
        return 0.0
    return 1.0 if asked & said else -1.0


def _is_fragment(text: str) -> float:
    words = text.split()
    if _ELLIPSIS.search(text):
        return 1.0
    lower = [w for w in words if w[:1].islower()]
    if text.rstrip()[-1:] not in ".!?\"”')" and len(words) < 8:
        return 1.0
    return 1.0 if len(words) >= 3 and len(lower) <= 1 else 0.0


def _key_share(keys: frozenset[str], have: set[str]) -> float:
    return len(keys & have) / len(keys) if keys else 1.0


_ASKING = frozenset(terms("what which who whom whose when where how many much name year date"))


def _relation_share(relation: frozenset[str], bag: set[str]) -> float:
    """Share of the question's relation words (its terms that are not names, numbers or
    question words: "acquired", "runner-up", "won") the unit says, a word's first five
    letters standing for its family ("acquired" / "acquisition")."""
    if not relation:
        return 1.0
    prefixes = {w[:5] for w in bag}
    return sum(t in bag or t[:5] in prefixes for t in relation) / len(relation)


def _bag(text: str) -> set[str]:
    return set(terms(text)) | {m.group().replace(",", "") for m in re.finditer(r"\d[\d,]*", text)}


# A name continued by another capitalised word or a number names another thing ("NFL Players
# Association"); a year or a company's legal form does not ("World Cup 2010", "Apple Inc.").
_LONGER = re.compile(
    r"(?:\s+|-)(?!(?:19|20)\d\d\b|(?:Inc|Corp|Corporation|Co|Ltd|LLC|plc|Company)\b)[A-Z0-9]|\w"
)


def name_extended(names: Sequence[str], text: str) -> float:
    """Share of the question's names the sentence says only inside a longer name: "the
    president of the NFL" is not "the president of the NFL Players Association"."""
    said = [n for n in names if n in text]
    if not said:
        return 0.0
    longer = 0
    for n in said:
        ends = [m.end() for m in re.finditer(re.escape(n), text)]
        longer += all(_LONGER.match(text, e) for e in ends)
    return longer / len(said)


def unit_features(
    prof: QuestionProfile, units: Sequence[Sentence], cosines: Sequence[float]
) -> list[list[float]]:
    bags = [set(terms(u.text)) for u in units]
    n = len(units)
    idf = {t: math.log(1 + n / (1 + sum(t in b for b in bags))) for t in prof.terms}
    total = sum(idf.values()) or 1.0
    contexts: dict[tuple[str, int], set[str]] = {}
    relation = prof.asked - prof.keys - _ASKING
    names = prof.names
    rows = []
    nears = neighbour_cosine(units, cosines)
    for u, bag, cos, near in zip(units, bags, cosines, nears, strict=True):
        ctx_key = (u.passage.path, u.passage.start)
        if ctx_key not in contexts:
            contexts[ctx_key] = _bag(u.passage.text)
        found = cands.extract(u.text) if prof.typed else []
        typed = [
            cands.type_match(prof, c) for c in found if cands.in_question(prof, c) < MOSTLY_ASKED
        ]
        years = set(YEAR.findall(u.text))
        rows.append(
            [
                cos,
                sum(idf[t] for t in prof.terms & bag) / total,
                sum(idf[t] for t in prof.terms & (bag | contexts[ctx_key])) / total,
                _relation_share(relation, bag),
                _key_share(prof.keys, _bag(u.text)),
                _key_share(prof.keys, contexts[ctx_key] | _bag(u.text)),
                float(prof.focus is None or prof.focus in contexts[ctx_key] | bag),
                max(typed, default=0.0),
                float(u.text.rstrip().endswith("?")),
                _is_fragment(u.text),
                float(bool(_BOILERPLATE.search(u.text))),
                _agreement(prof.periods, periods(u.text) | periods(u.passage.text)),
                _agreement(prof.years, years),
                math.log1p(len(u.text)) / 6,
                float(len(bag - prof.asked) < 2),
                name_extended(names, u.text),
                near,
            ]
        )
    return rows


def closeness(
    prof: QuestionProfile, text: str, cand: cands.Candidate, idf: dict[str, float]
) -> tuple[float, float]:
    """How near the question's words stand around the candidate in its sentence (0..1)."""
    tokens = [(m.start(), terms(m.group())) for m in cands.TOKEN.finditer(text)]
    inside = [i for i, (s, _) in enumerate(tokens) if cand.start <= s < cand.end] or [0]
    lo, hi = inside[0], inside[-1]
    best: dict[str, int] = {}
    for i, (_, stems) in enumerate(tokens):
        if lo <= i <= hi:
            continue
        d = lo - i if i < lo else i - hi
        for t in stems:
            if t in prof.terms and d < best.get(t, 10**6):
                best[t] = d
    total = sum(idf.get(t, 1.0) for t in prof.terms) or 1.0
    close = sum(idf.get(t, 1.0) / (1 + d) for t, d in best.items()) / total
    nearest = 1.0 / (1 + min(best.values())) if best else 0.0
    return close, nearest


def _focus_at(prof: QuestionProfile, text: str, cand: cands.Candidate) -> float:
    """How near the asked-for noun ("which *prison*") stands to the candidate: 1 inside or
    beside it, 0 when the sentence lacks it; 1 when the question names no such noun."""
    return 1.0 if prof.focus is None else cands.noun_at(prof.focus, text, cand)


_LOWER_NEXT = re.compile(r"\s+[a-z]")


def _modifier(text: str, cand: cands.Candidate) -> float:
    """A lone capitalised word used as a modifier ("Mexican prison", "American firm")."""
    if cand.ctype != "name" or " " in cand.text:
        return 0.0
    return float(bool(_LOWER_NEXT.match(text, cand.end)) and cand.text[-2:] in ("an", "se", "sh"))


def _support(units: Sequence[Sentence], found: list[tuple[int, cands.Candidate]]) -> list[float]:
    """log of how many passages state a value that agrees with each candidate's (spelling,
    date precision aside): retrieved passages that agree outweigh one that differs."""
    keys = [cands.value_key(c) for _, c in found]
    where = [(units[i].passage.path, units[i].passage.start) for i, _ in found]
    out = []
    for k in keys:
        passages = {w for w, other in zip(where, keys, strict=True) if cands.agrees(k, other)}
        out.append(math.log(max(1, len(passages))))
    return out


def candidate_features(
    prof: QuestionProfile, units: Sequence[Sentence]
) -> tuple[list[tuple[int, cands.Candidate]], list[list[float]]]:
    if not prof.typed:
        return [], []
    found = []
    for i, u in enumerate(units):
        for c in cands.extract(u.text):
            match = cands.type_match(prof, c)
            inq = cands.in_question(prof, c)
            if match > 0 and inq < MOSTLY_ASKED:
                found.append((i, c, match, inq))
    n = len(units)
    bags = [set(terms(u.text)) for u in units]
    idf = {t: math.log(1 + n / (1 + sum(t in b for b in bags))) for t in prof.terms}
    support = _support(units, [(i, c) for i, c, _, _ in found])
    rows = []
    for (i, c, match, inq), sup in zip(found, support, strict=True):
        close, nearest = closeness(prof, units[i].text, c, idf)
        multi = float(len(c.text.split()) > 1) if c.ctype == "name" else 0.0
        years = _agreement(prof.years, set(YEAR.findall(units[i].text)))
        mod = _modifier(units[i].text, c)
        spec, focus = cands.specificity(c), _focus_at(prof, units[i].text, c)
        rows.append([match, close, nearest, inq, sup, multi, mod, years, spec, focus])
    pairs = [(i, c) for i, c, _, _ in found]
    return pairs, [r + e for r, e in zip(rows, ranker_evidence(prof, units, pairs), strict=True)]


def focus_phrase(ev: Evidence, i: int) -> cands.Candidate | None:
    """For an untyped "which X" question: the name standing at X in unit `i` ("Los Zetas,
    a cartel" for "which cartel"; "Truth Social" for "which social network"), within three
    words of it, as the short answer; None when no name stands there. Half of such a name
    may be the question's words ("the Northeast Cartel")."""
    prof, text = ev.profile, ev.units[i].text
    if prof.focus is None:
        return None
    named = [
        (_focus_at(prof, text, c), c)
        for c in cands.extract(text)
        if c.ctype == "name" and cands.in_question(prof, c) <= MOSTLY_ASKED
    ]
    at, best = max(named, key=lambda x: x[0], default=(0.0, None))
    return best if at >= 0.25 else None


def focus_anywhere(ev: Evidence) -> float:
    """1 when the asked-for noun ("which *airport*") is said somewhere in the evidence (or
    the question names none): its absence is a question the documents do not answer."""
    focus = ev.profile.focus
    if focus is None:
        return 1.0
    texts = {u.text for u in ev.units} | {u.passage.text for u in ev.units}
    return float(any(t[:5] == focus[:5] for text in texts for t in terms(text)))


def gather(
    question: str,
    passages: Sequence[Passage],
    embed: Callable[[list[str]], Any],
    doc_text: Callable[[str], str | None],
) -> Evidence:
    """Units around the passages, their features, and the candidate answers in them."""
    prof = profile(question)
    units = passage_sentences(passages, doc_text)
    units = [u for u, o in zip(units, off_subject(question, units, doc_text), strict=True) if not o]
    if not units:
        return Evidence(prof, [], [], [], [])
    import numpy as np

    vectors = np.asarray(embed([question] + [u.text for u in units]), dtype=np.float32)
    cosines = [float(c) for c in vectors[1:] @ vectors[0]]
    unit_x = unit_features(prof, units, cosines)
    found, cand_x = candidate_features(prof, units)
    return Evidence(prof, units, unit_x, found, cand_x)
