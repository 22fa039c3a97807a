"""From scored evidence to a decision: which sentences to cite, which phrase is the short
answer, or why to refuse. Pure (no I/O), so training cross-validates this very function."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from qa.candidates import Candidate, agrees, normal, specificity, value_key
from qa.evidence import WINNER_FEATURES, content_form, winner_evidence
from qa.features import (
    CALIBRATION_FROM_UNIT,
    CANDIDATE_FEATURES,
    UNIT_FEATURES,
    Evidence,
    focus_anywhere,
    focus_phrase,
)
from qa.profile import terms
from qa.selector import Selector
from qa.why import asked_word, weakest

MAX_SENTENCES = 2
# Off-topic questions ("the capital of Australia" of a news corpus) read at cosine <= 0.18 to
# every unit; paraphrased questions on the corpus at >= 0.23 (eval/gold.jsonl). Set by
# hand from those, not cross-validated: one constant with a wide gap on either side.
OFF_TOPIC_COSINE = 0.2
SECOND_WITHIN = 2.0  # a second sentence is cited when its unit score is this close to the top
FULLER_WITHIN = 1.0  # a fuller form of the winning value is preferred when this close to it


@dataclass(frozen=True)
class Decision:
    answered: bool
    units: list[int]  # indices into evidence.units, cited in this order
    short: tuple[int, Candidate] | None  # (unit index, phrase) for one-thing questions
    probability: float  # the selector's calibrated probability for the chosen answer
    reason: str | None  # why it refused (kept for the eval's per-question labels)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def _refuse(reason: str, probability: float = 0.0) -> Decision:
    return Decision(False, [], None, probability, reason)


def _same_content(a: str, b: str) -> bool:
    ta, tb = set(terms(a)), set(terms(b))
    return len(ta & tb) >= 0.6 * min(len(ta), len(tb) or 1)


def _margin(scores: list[float], keys: list[str], best: int) -> float:
    """How far the winner leads the best choice that says something else (capped)."""
    others = [s for s, k in zip(scores, keys, strict=True) if k != keys[best]]
    return min(scores[best] - max(others), 5.0) if others else 5.0


def choose(
    ev: Evidence, selector: Selector
) -> tuple[int, tuple[int, Candidate] | None, list[float]] | str:
    """The winning unit, candidate (typed questions) and calibration features; or a reason."""
    if not ev.units:
        return "no passage retrieved"
    unit_score = selector.unit.logits(ev.unit_x)
    if ev.profile.typed:
        if not ev.candidates:
            return f"no {ev.profile.subkind or ev.profile.kind} in the evidence"
        rows = [
            [*x, unit_score[i]] for (i, _), x in zip(ev.candidates, ev.candidate_x, strict=True)
        ]
        score = selector.candidate.logits(rows)
        best = _fullest(ev, score, max(range(len(rows)), key=lambda j: score[j]))
        keys = [normal(c.text) for _, c in ev.candidates]
        cand = ev.candidates[best]
        u = ev.unit_x[cand[0]]
        row = dict(zip(CANDIDATE_FEATURES, ev.candidate_x[best], strict=False))
        close, support, at = row["focus_closeness"], row["support"], row["focus_at"]
        calib = [_margin(score, keys, best), *_evidence(u), close, support, at]
        return (
            cand[0],
            cand,
            [*calib, focus_anywhere(ev), *winner_evidence(ev.profile, ev.units, cand)],
        )
    best = max(range(len(ev.units)), key=lambda i: unit_score[i])
    keys = [u.text for u in ev.units]
    calib = [_margin(unit_score, keys, best), *_evidence(ev.unit_x[best])]
    none = [0.0] * len(WINNER_FEATURES)
    return best, None, [*calib, 0.0, 0.0, 1.0, focus_anywhere(ev), *none]


def _fullest(ev: Evidence, score: list[float], best: int) -> int:
    """The fullest statement of the winner's value: "April 29" wins, and "April 29, 2015"
    said elsewhere within FULLER_WITHIN of its score is the answer that is given."""
    key = value_key(ev.candidates[best][1])
    spec = specificity(ev.candidates[best][1])
    fuller = [
        j
        for j, (_, c) in enumerate(ev.candidates)
        if score[j] >= score[best] - FULLER_WITHIN
        and specificity(c) > spec
        and agrees(key, value_key(c))
    ]
    return max(fuller, key=lambda j: score[j]) if fuller else best


def _evidence(unit_row: list[float]) -> list[float]:
    """The winner's own evidence, on absolute scales that mean the same in any corpus."""
    return [unit_row[UNIT_FEATURES.index(n)] for n in CALIBRATION_FROM_UNIT]


def _off_topic(ev: Evidence) -> str | None:
    """Nothing retrieved is about the question: every unit reads far from it."""
    col = UNIT_FEATURES.index("cosine")
    best = max(row[col] for row in ev.unit_x)
    if best < OFF_TOPIC_COSINE:
        return f"nothing retrieved is about the question (best cosine {best:.2f})"
    return None


def _other_thing(ev: Evidence, best: int) -> str | None:
    """The winning sentence says the question's names only inside longer ones: it is about
    another thing ("president of the NFL Players Association" for "president of the NFL")."""
    if ev.unit_x[best][UNIT_FEATURES.index("name_extended")] < 1.0:
        return None
    return "the evidence names what was asked only as part of another name"


def decide(ev: Evidence, selector: Selector) -> Decision:
    """The best-supported answer, or a refusal with its reason."""
    chosen = choose(ev, selector)
    if isinstance(chosen, str):
        return _refuse(chosen)
    first, cand, calib = chosen
    prof = ev.profile
    off_topic = _off_topic(ev) or _other_thing(ev, first)
    if off_topic:
        return _refuse(off_topic)
    model = selector.calibrate_typed if prof.typed else selector.calibrate_other
    threshold = selector.min_typed if prof.typed else selector.min_other
    p = sigmoid(model.logits([calib])[0])
    if p < threshold:
        asked = asked_word(prof.text, prof.focus or prof.head)
        form = content_form(prof, ev.units[cand[0]].text, cand[1]) if cand else None
        why = weakest(model, calib, cand[1].text if cand else None, asked, form)
        return _refuse(
            f"weak evidence (p={p:.2f} < {threshold:.2f})" + (f": {why}" if why else ""), p
        )
    unit_score = selector.unit.logits(ev.unit_x)
    order = sorted(range(len(ev.units)), key=lambda i: unit_score[i], reverse=True)
    units = [first]
    for i in order[: MAX_SENTENCES + 1]:
        if len(units) >= MAX_SENTENCES or unit_score[i] < unit_score[first] - SECOND_WITHIN:
            break
        if i != first and not any(_same_content(ev.units[i].text, ev.units[c].text) for c in units):
            units.append(i)
    if (
        cand is None
        and prof.focus is not None
        and re.match(r"\W*(?:\w+\s+)?which\b", prof.text, re.I)
    ):
        near = focus_phrase(ev, first)
        cand = (first, near) if near else None
    return Decision(True, units, cand if prof.wants_short or not prof.typed else None, p, None)
