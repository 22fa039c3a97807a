"""A refusal on weak evidence names what pulled the probability down (qa.why)."""

from __future__ import annotations

from qa.selector import LogisticModel
from qa.why import asked_word, weakest

_MODEL = LogisticModel(
    ("margin", "focus_anywhere", "not_content", "unnamed"),
    (1.0, 2.0, -3.0, 5.0),
    0.0,
    (1.0, 0.5, 0.1, 0.0),
    (1.0, 0.5, 0.3, 1.0),
)


def test_the_input_that_pulls_down_most_is_named() -> None:
    asked = asked_word("In which prison was he held?", "prison")
    assert asked == '"prison"'
    # the asked noun is missing from the evidence: pull 2*(0-0.5)/0.5 = -2, the largest
    row = [1.0, 0.0, 0.0, 0.0]
    assert weakest(_MODEL, row, "Mexico", asked, None) == '"prison" is said nowhere in the evidence'
    # a form around content pulls -3*(1-0.1)/0.3 = -9: it is the reason, with its kind
    row = [1.0, 0.0, 1.0, 0.0]
    why = weakest(_MODEL, row, "El Narco", asked, "a quoted nickname or title")
    assert why == 'the best answer, "El Narco", is a quoted nickname or title'


def test_no_reason_when_nothing_pulls_down_or_the_feature_has_no_words() -> None:
    asked = asked_word("Who won?", None)
    assert asked == "the thing asked for"
    assert weakest(_MODEL, [2.0, 1.0, 0.0, 0.0], "X", asked, None) is None
    # "unnamed" pulls down most (5 * -1) but has no plain words: the next one is named
    why = weakest(_MODEL, [0.5, 0.5, 0.1, -1.0], "X", asked, None)
    assert why == "no answer stands out from the others"
