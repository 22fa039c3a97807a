"""Plain words for a refusal on weak evidence: which of the calibrator's inputs pulled the
probability down most, so a refused question says what the documents lacked."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.profile import terms
from qa.selector import LogisticModel

# What a low value of each calibration feature means (features absent here are not named).
_LOW = {
    "margin": "no answer stands out from the others",
    "cosine": "the passages read far from the question",
    "overlap": "the best sentence shares few of the question's words",
    "passage_overlap": "the passages share few of the question's words",
    "relation_in_sentence": "the best sentence does not say what the question asks about",
    "keys_in_sentence": "the best sentence does not say the question's names",
    "keys_in_passage": "the passages do not say the question's names",
    "head_in_passage": "the passages do not say {asked}",
    "focus_closeness": "the question's words stand far from the answer",
    "support": "a single passage says the answer",
    "focus_at": "{asked} is not said at the answer",
    "head_at": "{asked} is not said at the answer",
    "focus_anywhere": "{asked} is said nowhere in the evidence",
}
# ... and what a high value means, for features that count against an answer.
_HIGH = {
    "not_content": "the best answer, {answer}, is {form}",
}


def asked_word(question: str, stem: str | None) -> str:
    """The question's own word for the thing it asks for ("which *prison*"), quoted."""
    if stem:
        for word in re.findall(r"[\w'’\-]+", question):
            if terms(word)[-1:] == [stem]:
                return f'"{word}"'
    return "the thing asked for"


def weakest(
    model: LogisticModel, row: Sequence[float], answer: str | None, asked: str, form: str | None
) -> str | None:
    """The plain reason of the input that lowers the calibrated probability most, or None;
    `answer` is the winning phrase, `asked` the question's word for what it asks, `form`
    what kind of form around content the answer is (qa.evidence.content_form)."""
    worst, why = 0.0, None
    for name, w, x, mean, scale in zip(
        model.names, model.weights, row, model.mean, model.scale, strict=True
    ):
        pull = w * (x - mean) / scale
        high = x > mean
        text = _HIGH.get(name) if high else _LOW.get(name)
        if pull < worst and text:
            worst, why = pull, text
    said = f'"{answer}"' if answer else "the answer"
    return why.format(answer=said, asked=asked, form=form or "no content") if why else None
