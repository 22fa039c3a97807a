"""Evidence about a candidate answer beyond its type (qa.evidence): labels, possessives,
quoted nicknames, periods and former holders are forms around content, and the asked noun's
distance, for the refusal calibrator; a person for a where-question, for the ranker."""

from __future__ import annotations

import pytest

from qa import load_selector
from qa.candidates import Candidate, extract
from qa.evidence import (
    RANKER_FEATURES,
    WINNER_FEATURES,
    content_form,
    head_at,
    not_content,
    person_for_place,
    ranker_evidence,
    winner_evidence,
)
from qa.features import CALIBRATION_FEATURES
from qa.profile import head_term, profile
from qa.types import Passage
from qa.units import Sentence

_ANY = profile("Who said it?")


def _cand(text: str, phrase: str) -> Candidate:
    return next(c for c in extract(text) if c.text == phrase)


_SPEAKER = "Interviewer: Dr. Ramirez, thank you for joining us today."
_MENTION = "We spoke with the Interviewer about Chicago today."
_POSSESSIVE = "Find the results of France's presidential election on our map."
_PLAIN = "Emmanuel Macron won the election in France."
_QUOTED = 'The kingpin, nicknamed "El Narco de Narcos", evaded prison for decades.'
_CURLY = "He was known as “The Boss” in Sinaloa."
_DURING = "A romance set during the Cold War won best picture."
_AMID = "Talks stalled amid Brexit, Reuters reported."


@pytest.mark.parametrize(
    ("text", "phrase", "form"),
    [
        (_SPEAKER, "Interviewer", 1.0),  # a speaker's label
        (_MENTION, "Chicago", 0.0),  # the same word inside the sentence labels nothing
        (_POSSESSIVE, "France's", 1.0),  # qualifies another noun
        (_PLAIN, "Emmanuel Macron", 0.0),
        (_PLAIN, "France", 0.0),
        (_QUOTED, "El Narco de Narcos", 1.0),  # a nickname
        (_CURLY, "Boss", 1.0),  # "The" is no part of a name
        (_CURLY, "Sinaloa", 0.0),
        (_DURING, "Cold War", 1.0),  # a period or event
        (_AMID, "Brexit", 1.0),
        (_AMID, "Reuters", 0.0),
    ],
)
def test_forms_around_content_are_not_the_thing_asked(text: str, phrase: str, form: float) -> None:
    assert not_content(_ANY, text, _cand(text, phrase)) == form


def test_a_former_holder_does_not_answer_who_holds_it_now() -> None:
    text = "The firm hired former Fidelity Investments executive Mike Durbin as president."
    durbin = _cand(text, "Mike Durbin")
    assert not_content(profile("Who is the new CEO of Fidelity?"), text, durbin) == 1.0
    # a question that asks for a former one is answered by one
    former = profile("Which former Fidelity executive did the firm hire?")
    assert not_content(former, text, durbin) == 0.0
    plain = "The firm hired Mike Durbin, a Fidelity executive."
    assert not_content(_ANY, plain, _cand(plain, "Mike Durbin")) == 0.0


def test_winner_evidence_reads_the_winners_own_sentence() -> None:
    text = "Interviewer: welcome back to the programme."
    passage = Passage("c1", "doc.txt", "/docs/doc.txt", text, 0, len(text), None, 1.0)
    unit = Sentence(passage, 1, 0, len(text), text)
    prof = profile("Who welcomed the audience back?")
    got = winner_evidence(prof, [unit], (0, _cand(text, "Interviewer")))
    assert dict(zip(WINNER_FEATURES, got, strict=True)) == {"not_content": 1.0, "head_at": 1.0}


def test_the_shipped_calibrator_trusts_a_form_around_content_less() -> None:
    sel = load_selector()
    at = CALIBRATION_FEATURES.index("not_content")
    row = list(sel.calibrate_typed.mean)
    content, form = list(row), list(row)
    content[at], form[at] = 0.0, 1.0
    p_content, p_form = sel.calibrate_typed.logits([content, form])
    assert p_form < p_content


def test_the_asked_noun_stands_at_a_name_that_answers_it() -> None:
    prof = profile("Which eight US cities received the extradited prisoners?")
    assert prof.head == head_term(prof.text) == "citi"  # generic, kept though not a focus
    text = "The prisoners left from across Mexico and were flown to eight U.S. cities."
    far = head_at(prof, text, _cand(text, "Mexico"))
    named = "They landed in the cities Houston, Dallas, Miami."
    near = head_at(prof, named, _cand(named, "Houston"))
    assert 0.0 < far < near
    assert head_at(prof, "Houston welcomed them.", _cand("Houston welcomed them.", "Houston")) == 0
    # a question without an asked noun, or an answer that is no name, is not judged
    who = profile("Who received the prisoners?")
    assert head_at(who, text, _cand(text, "Mexico")) == 1.0


def test_a_name_said_as_a_person_does_not_answer_where() -> None:
    prof = profile("Where are the lawmen based who advised against trips?")
    texts = [
        "Former U.S. President Donald Trump has pressured Mexico.",
        "The sheriff's office in Texas advised against trips, Trump said.",
    ]
    trump = _cand(texts[0], "Donald Trump")
    texas = _cand(texts[1], "Texas")
    assert person_for_place(prof, texts, trump) == 1.0
    assert person_for_place(prof, texts, texas) == 0.0
    said = _cand(texts[1], "Trump")  # before "said": a person though no title stands before
    assert person_for_place(prof, texts, said) == 1.0
    # only where-questions are judged so
    assert person_for_place(profile("Who pressured Mexico?"), texts, trump) == 0.0
    units = [
        Sentence(Passage("c", "d", "/d", t, 0, len(t), None, 1.0), 1, 0, len(t), t) for t in texts
    ]
    rows = ranker_evidence(prof, units, [(0, trump), (1, texas)])
    at = RANKER_FEATURES.index("person_for_place")
    assert [r[at] for r in rows] == [1.0, 0.0] and len(rows[0]) == len(RANKER_FEATURES)


def test_the_form_is_named_for_the_refusal_reason() -> None:
    label = "Interviewer: welcome back."
    assert (
        content_form(_ANY, label, _cand(label, "Interviewer")) == "a speaker's or heading's label"
    )
    own = "France's election was close."
    assert content_form(_ANY, own, _cand(own, "France's")) == "a possessive"
    war = "It was set during the Cold War."
    assert content_form(_ANY, war, _cand(war, "Cold War")) == "a period or event"
    plain = "Emmanuel Macron won."
    assert content_form(_ANY, plain, _cand(plain, "Emmanuel Macron")) is None


def test_a_capitalised_common_word_is_no_name() -> None:
    texts = ["Dr. Lee: Thank you for having me.", "Interviewer: Dr. Lee, thank you for joining us."]
    units = [
        Sentence(Passage("c", "d", "/d", t, 0, len(t), None, 1.0), 1, 0, len(t), t) for t in texts
    ]
    prof = profile("What is Dr. Lee's first name?")
    thank = _cand(texts[0], "Thank")
    lee = _cand(texts[0], "Lee")
    rows = ranker_evidence(prof, units, [(0, thank), (0, lee)])
    at = RANKER_FEATURES.index("common_word")
    assert rows[0][at] == 1.0  # "thank" is said in lower case elsewhere
    assert rows[1][at] == 0.0


def test_the_asked_noun_is_read_from_the_question_not_a_carried_sentence() -> None:
    carried = "Officials would not say which airport was used."
    prof = profile(f"Who flew them? {carried}")
    assert head_term(prof.text) == "airport"  # reading the whole text finds the carried noun
    assert prof.head is None  # the question itself asks "who", with no noun after it
