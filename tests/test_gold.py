"""eval/gold.jsonl itself: enough questions of each kind, and answers the corpus supports.

Why: CI gates quality on this set. A gold answer that is not in its listed source, or a
listed source that does not hold the answer, would make a correct engine look wrong
(or a wrong one look right), so every pair is checked against the corpus text.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from eval.formats import GOLD_TYPES, GoldItem, load_gold
from eval.metrics import contains_answer

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
GOLD = load_gold(ROOT / "eval" / "gold.jsonl")  # also validates fields and unique ids
ANSWERABLE = [item for item in GOLD if item.answerable]


def corpus_text(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


def test_gold_set_is_big_enough_and_mixes_every_kind() -> None:
    kinds = Counter(item.type for item in GOLD)
    assert len(GOLD) >= 60
    assert set(kinds) == set(GOLD_TYPES)
    assert kinds["unanswerable"] >= 10
    assert kinds["factoid"] >= 25 and kinds["paraphrase"] >= 10 and kinds["multi"] >= 5
    assert len({item.id for item in GOLD}) == len(GOLD)
    assert len({item.question.lower() for item in GOLD}) == len(GOLD)


def test_every_listed_source_is_a_corpus_file() -> None:
    listed = {source for item in GOLD for source in item.sources}
    assert listed <= {p.name for p in CORPUS.iterdir()}
    assert all(item.sources for item in ANSWERABLE)


def test_multi_document_questions_list_two_sources() -> None:
    assert all(len(item.sources) >= 2 for item in GOLD if item.type == "multi")


@pytest.mark.parametrize("item", ANSWERABLE, ids=lambda item: item.id)
def test_every_answer_occurs_in_one_of_its_sources(item: GoldItem) -> None:
    for answer in item.answers:
        assert any(contains_answer(corpus_text(s), [answer]) for s in item.sources), answer


@pytest.mark.parametrize("item", ANSWERABLE, ids=lambda item: item.id)
def test_every_listed_source_holds_an_answer(item: GoldItem) -> None:
    for source in item.sources:
        assert contains_answer(corpus_text(source), item.answers), source
