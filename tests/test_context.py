"""Context features of answer units: what the sentences beside a unit say about the question."""

from __future__ import annotations

from qa.context import neighbour_cosine, neighbours
from qa.features import UNIT_FEATURES, unit_features
from qa.profile import profile
from qa.types import Passage
from qa.units import Sentence, passage_sentences

TEXT = (
    "Caro Quintero walked free in 2013. "
    "He returned to drug trafficking until he was arrested in 2022.\n\n"
    "Tariffs were discussed. Nothing else happened."
)


def _units() -> list[Sentence]:
    doc = Passage("c1", "news.txt", "news.txt", TEXT, 0, len(TEXT), None, 1.0)
    other = Passage("c2", "other.txt", "other.txt", TEXT, 0, len(TEXT), None, 1.0)
    units = passage_sentences([doc], {"news.txt": TEXT}.get)
    # the same text in another document is no neighbour of these
    return [*units, *passage_sentences([other], {"other.txt": TEXT}.get)[:1]]


def test_neighbours_are_the_adjacent_sentences_of_the_same_document() -> None:
    units = _units()
    assert [u.text[:12] for u in units] == [
        "Caro Quinter",
        "He returned ",
        "Tariffs were",
        "Nothing else",
        "Caro Quinter",
    ]
    near = neighbours(units)
    assert near[0] == [1]
    assert sorted(near[1]) == [0, 2]  # a blank line between paragraphs still adjoins
    assert sorted(near[2]) == [1, 3]
    assert near[4] == []  # alone in its document


def test_a_gap_between_retrieved_sentences_is_no_neighbourhood() -> None:
    units = _units()
    kept = [units[0], units[2], units[3]]  # the sentence between 0 and 2 was not retrieved
    assert neighbours(kept) == [[], [2], [1]]


def test_neighbour_cosine_is_the_best_neighbour_and_a_feature_of_the_unit() -> None:
    units = _units()
    cosines = [0.7, 0.3, 0.1, 0.2, 0.7]
    assert neighbour_cosine(units, cosines) == [0.3, 0.7, 0.3, 0.1, 0.0]
    rows = unit_features(profile("When was Caro Quintero arrested again?"), units, cosines)
    col = UNIT_FEATURES.index("neighbour_cosine")
    assert [r[col] for r in rows] == [0.3, 0.7, 0.3, 0.1, 0.0]
    assert "passage_rank" not in UNIT_FEATURES
