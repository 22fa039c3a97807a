"""What a question asks for, where the first reading of it went wrong (qa.profile)."""

from __future__ import annotations

import pytest

from qa.profile import profile


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        # "who" after the question word opens a relative clause: it does not ask for a person
        ("In which part of the US are the local lawmen based who advised against trips?", "place"),
        ("When did the senator who resigned leave office?", "date"),
        # "who" as the question word, first or after a preposition, still asks for one
        ("Who is the head of state south of the border?", "name"),
        ("To whom did the company sell its stake?", "name"),
        ("Name the doctor who commented on the extradition.", "name"),
        # a part of a named place is a place
        ("Which part of Germany was hit hardest?", "place"),
    ],
)
def test_the_question_word_decides_the_kind(question: str, kind: str) -> None:
    assert profile(question).kind == kind
