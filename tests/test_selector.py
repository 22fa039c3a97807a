"""The offline answer selector: question profiles, candidates, the shipped weights, short
answers end to end, follow-up resolution, and the eval figures built on them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.conversations import DEFAULT_CONVERSATIONS, load_conversations
from eval.metrics import score_row, short_scores
from qa import Engine, load_selector
from qa.candidates import (
    Candidate,
    agrees,
    extract,
    in_question,
    specificity,
    type_match,
    value_key,
)
from qa.doc_names import off_subject, subjects
from qa.features import name_extended
from qa.followup import resolve
from qa.profile import periods, profile, question_names
from qa.selector import LogisticModel, Selector
from qa.types import REFUSAL_TEXT, Passage
from qa.units import Sentence
from ui import render


@pytest.mark.parametrize(
    ("question", "kind", "sub", "short"),
    [
        ("How many alleged drug traffickers did Mexico extradite?", "number", "count", True),
        ("What was Tesla's revenue in Q2 2020?", "number", "money", True),
        ("What is the premiere date of Grey's Anatomy Season 17?", "date", "date", True),
        ("In what year was Camarena murdered?", "date", "year", True),
        ("Who won the men's singles U.S. Open 2021?", "name", "", True),
        ("Which city hosted the olympic games in 2004?", "place", "", True),
        ("Why might the extradition lead to more violence?", "other", "", False),
        ("How long did Caro Quintero spend in prison?", "number", "count", True),
        ("What was the band's original name?", "name", "", True),
    ],
)
def test_question_profile(question: str, kind: str, sub: str, short: bool) -> None:
    p = profile(question)
    assert (p.kind, p.subkind, p.wants_short) == (kind, sub, short)


def test_periods_are_read_in_their_common_spellings() -> None:
    assert periods("In the second quarter of 2023 (Q2), the six months ended") == {"q2", "6m"}
    assert periods("fiscal year 2024") == {"fy24"}


def test_a_name_said_only_inside_a_longer_name_is_another_thing() -> None:
    names = question_names("Who is the president of the NFL?")
    assert names == ["NFL"]
    assert name_extended(names, "Tretter, president of the NFL Players Association") == 1.0
    assert name_extended(names, "the NFL named its new president") == 0.0
    assert name_extended(names, "An NFL team and the NFL Players Association") == 0.0
    assert name_extended(names, "The league announced it today") == 0.0  # not said at all
    cup = question_names("Who was the runner-up of the 2010 World Cup?")
    assert name_extended(cup, "Spain beat the Netherlands in the World Cup 2010 final") == 0.0
    zelda = question_names("When was The Legend of Zelda: Ocarina of Time released?")
    assert zelda == ["The Legend of Zelda: Ocarina of Time"]
    said = "The Legend of Zelda: Ocarina of Time Re-Arranged Album was released"
    assert name_extended(zelda, said) == 1.0


def test_evidence_about_a_longer_name_is_refused_with_its_reason(
    make_engine: Any, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "union.txt").write_text(
        "The board unanimously re-elected JC Tretter as president of the NFL Players "
        "Association on Monday. Tretter played centre for the Cleveland Browns.\n",
        encoding="utf-8",
    )
    engine = make_engine()
    engine.ingest([docs])
    refused = engine.ask("Who is the president of the NFL?")
    assert not refused.answered
    assert refused.refusal_reason and "another name" in refused.refusal_reason
    answered = engine.ask("Who is the president of the NFL Players Association?")
    assert answered.answered and answered.short and answered.short.quote == "JC Tretter"


def test_the_subject_of_a_question_is_its_name_without_period_or_possessive() -> None:
    assert subjects("What changes in debt were reported by NVIDIA in the Q1 2023 10-Q?") == [
        "NVIDIA"
    ]
    assert subjects("How did Apple's operating expenses for Q1 2023 compare?") == ["Apple"]
    assert subjects("In Intel's Q2 2023 10-Q, what were the expenses?") == ["Intel"]
    assert subjects("what were the expenses?") == []


def test_units_of_a_document_that_never_says_the_subject_are_off_subject() -> None:
    docs = {
        "intel.pdf": "Intel Corporation. Intel reported revenue. INTEL net income rose.",
        "other.pdf": "Amazon.com. Interest expense was $823 million. Intelligent Cloud grew.",
        "news.txt": "Treviño Morales was extradited. Trevino Morales ran Los Zetas.",
    }

    def unit(path: str) -> Sentence:
        text = docs[path]
        return Sentence(Passage(path, path, path, text, 0, len(text), None, 1.0), 1, 0, 9, text)

    units = [unit("intel.pdf"), unit("other.pdf")]
    # "Intelligent" is no mention of Intel: the other filing is off the subject
    assert off_subject("What was Intel's interest expense?", units, docs.get) == [False, True]
    # nothing is named, or no retrieved document is about the name: every unit stays
    assert off_subject("What was the interest expense?", units, docs.get) == [False, False]
    assert off_subject("What did Nvidia report?", units, docs.get) == [False, False]
    # accents aside: "Treviño" and "Trevino" are one name, said twice: that article is about it
    news = [unit("news.txt"), unit("other.pdf")]
    assert off_subject("Who are the Treviño Morales brothers?", news, docs.get) == [False, True]
    # an empty index retrieves nothing: nothing to drop (and no error)
    assert off_subject("What was Intel's interest expense?", [], docs.get) == []


def test_an_empty_index_refuses_a_question_that_names_something(make_engine) -> None:
    assert not make_engine().ask("What was Intel's interest expense in Q1 2023?").answered


def test_a_first_person_pronoun_is_no_name() -> None:
    assert not [c for c in extract("As head of Fidelity, I'm focused on it.") if c.text == "I'm"]


def test_candidates_are_exact_spans_of_their_type() -> None:
    text = "Croatia lost 4-2 to France on July 15, 2018; revenue was $6.04 billion, up 2%."
    found = {(c.text, c.ctype) for c in extract(text)}
    assert {("Croatia", "name"), ("July 15, 2018", "date"), ("$6.04 billion", "money")} <= found
    assert ("2%", "percent") in found
    codes = {(c.text, c.ctype) for c in extract("Known as “Z-40” and “Z-42” in Q2 2023.")}
    assert {("Z-40", "name"), ("Z-42", "name")} <= codes  # not the numbers 40 and 42
    for c in extract(text):
        assert text[c.start : c.end] == c.text
    money = next(c for c in extract(text) if c.ctype == "money")
    assert type_match(profile("What was Tesla's revenue?"), money) == 1.0
    assert type_match(profile("Who won?"), money) == 0.0


def test_shipped_weights_match_the_features_and_are_versioned() -> None:
    sel = load_selector()
    assert sel.unit.names and sel.candidate.names
    assert 0.0 <= sel.min_typed <= 1.0 and 0.0 <= sel.min_other <= 1.0
    assert sel.info["folds"] >= 2 and "figures" in sel.info  # trained with CV, figures kept


def test_weights_for_other_features_are_refused_with_the_fix(tmp_path: Path) -> None:
    sel = load_selector()
    wrong = LogisticModel(("x",), (1.0,), 0.0, (0.0,), (1.0,))
    bad = Selector(wrong, sel.candidate, sel.calibrate_typed, sel.calibrate_other, 0, 0, {})
    path = tmp_path / "selector.json"
    path.write_text(json.dumps(bad.to_dict()), encoding="utf-8")
    load_selector.cache_clear()
    try:
        with pytest.raises(ValueError, match="train_selector"):
            load_selector(str(path))
    finally:
        load_selector.cache_clear()


def test_short_answer_is_an_exact_span_inside_its_sentence_citation(
    corpus_engine: Engine,
) -> None:
    answer = corpus_engine.ask("How many alleged drug traffickers did Mexico extradite?")
    assert answer.answered and answer.short is not None
    short = answer.short
    assert short.quote == "29"
    text = Path(short.path).read_text(encoding="utf-8")
    assert text[short.start : short.end] == short.quote
    sentence = next(c for c in answer.citations if c.n == short.n)
    assert sentence.path == short.path and sentence.start <= short.start < short.end <= sentence.end
    assert answer.to_dict()["short"]["quote"] == "29"


def test_no_short_answer_for_a_question_that_asks_for_an_explanation(
    corpus_engine: Engine,
) -> None:
    answer = corpus_engine.ask("Why might the extradition of cartel leaders lead to violence?")
    assert answer.short is None and answer.to_dict()["short"] is None


def test_which_x_question_gets_the_name_standing_at_x_as_short_answer(
    corpus_engine: Engine,
) -> None:
    answer = corpus_engine.ask("On which social network did Trump post about drugs?")
    assert answer.answered and answer.short is not None
    assert answer.short.quote == "Truth Social"
    cited = answer.citations[answer.short.n - 1]
    assert cited.start <= answer.short.start < answer.short.end <= cited.end


def test_a_refusal_keeps_its_reason(corpus_engine: Engine) -> None:
    answer = corpus_engine.ask("What is the capital of Australia?")
    assert not answer.answered and answer.refusal_reason
    assert answer.to_dict()["refusal_reason"] == answer.refusal_reason


def test_follow_ups_resolve_pronouns_and_carry_the_previous_answer() -> None:
    history = [
        {"role": "user", "content": "Who is Rafael Caro Quintero?"},
        {"role": "assistant", "content": "A former leader of the Guadalajara cartel. [1]"},
        {"role": "user", "content": "What is he accused of?"},
        {"role": "assistant", "content": "He is accused of the 1985 murder of Camarena. [1]"},
    ]
    assert resolve("What is he accused of?", history[:2]) == (
        "What is Rafael Caro Quintero accused of?"
    )
    when = resolve("When did that happen?", history)
    assert when.startswith("When did that happen?") and "1985 murder" in when
    assert resolve("Who founded Los Zetas?", history) == "Who founded Los Zetas?"


def test_a_refused_turn_carries_the_previous_question() -> None:
    history = [
        {"role": "user", "content": "How many people did Mexico extradite to the US?"},
        {"role": "assistant", "content": REFUSAL_TEXT},
    ]
    assert resolve("On what date did that happen?", history) == (
        "On what date did that happen? How many people did Mexico extradite to the US?"
    )


def test_carried_context_is_evidence_not_the_question() -> None:
    carried = "The Webb County Sheriff’s Office urged caution when visiting Nuevo Laredo."
    p = profile(f"Which city did it urge caution about? {carried}")
    assert p.kind == "place" and "nuevo" not in p.asked and "nuevo" in p.terms
    laredo = next(c for c in extract(carried) if c.text == "Nuevo Laredo")
    assert in_question(p, laredo) == 0.0  # the carried sentence's names may be the answer
    asked = profile("Which city near Nuevo Laredo did the sheriff name?")
    assert in_question(asked, laredo) == 1.0


def test_value_keys_agree_across_spellings_and_precision() -> None:
    full, bare, other = (
        Candidate(0, 1, text, "date") for text in ("April 29, 2015", "April 29", "June 2010")
    )
    assert agrees(value_key(bare), value_key(full))
    assert not agrees(value_key(other), value_key(full))
    assert specificity(bare) < specificity(full) == 1.0
    million = Candidate(0, 1, "$6.04 billion", "money")
    assert agrees(value_key(million), value_key(Candidate(0, 1, "$6,040 million", "money")))


def test_follow_up_answer_reads_the_previous_answer(corpus_engine: Engine) -> None:
    first = corpus_engine.ask("What is Rafael Caro Quintero accused of?")
    history = [
        {"role": "user", "content": "What is Rafael Caro Quintero accused of?"},
        {"role": "assistant", "content": first.text},
    ]
    answer = corpus_engine.ask("When did that happen?", history)
    assert answer.answered and "1985" in answer.text


def test_conversation_set_is_big_enough() -> None:
    convs = load_conversations(DEFAULT_CONVERSATIONS)
    assert len(convs) >= 20
    assert all(2 <= len(c["turns"]) <= 4 for c in convs)


def test_bad_conversations_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"id": "x", "turns": []}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="non-empty 'turns'"):
        load_conversations(bad)


def test_exact_match_and_f1_use_the_short_answer() -> None:
    row = {
        "type": "factoid",
        "answers": ["29"],
        "sources": [],
        "answer": "Mexico has extradited 29 alleged drug traffickers. [1]",
        "answered": True,
        "short": {"quote": "29"},
    }
    scores = score_row(row)
    assert scores["exact_match"] == 1.0 and scores["f1"] == 1.0
    without = score_row(row | {"short": None})
    assert without["exact_match"] == 0.0 and without["f1"] < 0.5
    figures = short_scores([row, row | {"short": None}])
    assert figures == {"short_rate": 0.5, "short_exact_match": 1.0, "short_f1": 1.0}


def test_ui_shows_the_short_answer_bold_and_highlighted_in_its_quote(
    corpus_engine: Engine,
) -> None:
    answer = corpus_engine.ask("How many alleged drug traffickers did Mexico extradite?")
    assert answer.short is not None
    html = render.answer_html(answer, 0)
    assert '<div class="qa-short"><b>29</b></div>' in html
    cited = next(c for c in answer.citations if c.n == answer.short.n)
    card = render.citation_card(0, cited, None, "", answer.short)
    assert '<strong class="qa-short-in">29</strong>' in card
