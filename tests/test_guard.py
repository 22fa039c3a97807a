"""The guard's pure parts: cutting a reply into claims, spotting an echoed prompt, and the
eval's own check that a shown claim is supported by the quotes it cites."""

from __future__ import annotations

import pytest

from eval.metrics import (
    answer_claims,
    claim_supported,
    echoes_prompt,
    score_row,
    summarize,
    unsupported_claims,
)
from qa.guard import Verdict, is_echo
from qa.prompt import ANSWER_REQUEST, SYSTEM_PROMPT
from qa.support import names, numbers, plain, split_claims
from qa.types import REFUSAL_TEXT


def test_claims_are_cut_at_sentence_ends_and_lines_not_abbreviations() -> None:
    reply = "Dr. Smith met U.S. officials in Jan. 2020 [1]. He left.\n- Item two [2]\nunfinished"
    claims, rest = split_claims(reply)
    assert [plain(c) for c in claims] == [
        "Dr. Smith met U.S. officials in Jan. 2020.",
        "He left.",
        "Item two",
    ]
    assert rest == "unfinished"
    assert split_claims("No end yet")[0] == []


def read(pieces: list[str]) -> list[str]:
    """Claims as the answerer reads them from a stream of deltas (qa.guard.ClaimReader)."""
    claims, rest = [], ""
    for piece in pieces:
        done, rest = split_claims(rest + piece)
        claims += [plain(c) for c in done]
    return claims + ([plain(rest)] if rest.strip() else [])


@pytest.mark.parametrize(
    "reply",
    [
        "Paris is large [1]. It has a river [2].",
        "Claim. [1]\n\nNext [2]",
        "Range [1-2]. Dup [1][1]. St. Louis is big.",
    ],
)
def test_claims_are_the_same_however_the_stream_is_cut(reply: str) -> None:
    whole = read([reply])
    assert read(list(reply)) == whole
    for cut in range(len(reply)):
        assert read([reply[:cut], reply[cut:]]) == whole


def test_markers_and_bullets_are_stripped_but_brackets_kept() -> None:
    assert plain("1. Paris is big [1][Passage 2] and [sic] old [1, 3].") == (
        "Paris is big and [sic] old."
    )
    assert numbers("It cost $1,200.50 in 2019.") == {"1200.50", "2019"}
    assert names("The Guadalajara cartel and Caro Quintero") == {"guadalajara", "caro", "quintero"}


@pytest.mark.parametrize(
    "text",
    [
        "<<<END PASSAGE 5>> Question: How many were extradited?",
        f"Sure. {ANSWER_REQUEST}",
        "Question: who was extradited",
        "Cite every claim with the number of the passage that states it, in square brackets",
        SYSTEM_PROMPT.splitlines()[0],
    ],
)
def test_prompt_echoes_are_recognised(text: str) -> None:
    assert is_echo(text)
    assert echoes_prompt("x <<<PASSAGE 2: a.txt>>> y")


@pytest.mark.parametrize(
    "text",
    [
        "Mexico extradited 29 alleged drug traffickers to the US.",
        "The passage says the cartel answered questions from the press.",
        REFUSAL_TEXT,
    ],
)
def test_ordinary_claims_are_not_echoes(text: str) -> None:
    assert not is_echo(text)


def test_a_verdict_shows_its_citation_before_the_final_stop() -> None:
    assert Verdict("supported", "Paris is big.", 2).shown == "Paris is big [2]."
    assert Verdict("supported", "Paris is big", 2).shown == "Paris is big [2]."
    assert Verdict("supported", 'He said "no."', 1).shown == 'He said "no [1]."'
    assert Verdict("unsupported", "Paris is big.").shown == ""


QUOTE = "On Thursday, Mexico extradited 29 alleged drug traffickers to the United States."


def test_eval_counts_claims_without_a_supporting_citation() -> None:
    citations = [{"n": 1, "quote": QUOTE, "source": "a.txt", "valid": True}]
    text = "Mexico extradited 29 traffickers [1]. They sang songs. It was 35 people [1]."
    assert answer_claims(text) == [
        ("Mexico extradited 29 traffickers [1].", [1]),
        ("They sang songs.", [1]),  # vouched for by the next citation, which does not hold it
        ("It was 35 people [1].", [1]),
    ]
    quoted = "The U.S. Drug Enforcement Administration said so [1]. Then more."
    assert answer_claims(quoted) == [
        ("The U.S.", [1]),
        ("Drug Enforcement Administration said so [1].", [1]),
        ("Then more.", []),
    ]
    assert claim_supported("Mexico extradited 29 traffickers.", [QUOTE])
    assert not claim_supported("It was 35 people.", [QUOTE])  # a number the quote lacks
    assert claim_supported("It was on November 18th.", ["Date: Wednesday, November 18, 2020"])
    assert not claim_supported("They sang songs.", [])
    assert unsupported_claims(text, citations) == 2
    assert answer_claims("Claim one. [1] Claim two [2].") == [
        ("Claim one. [1]", [1]),
        ("Claim two [2].", [2]),
    ]


def test_eval_summarises_the_claim_checks() -> None:
    base = {"type": "factoid", "answers": ["29"], "sources": ["a.txt"], "retrieved": ["a.txt"]}
    cited = [{"n": 1, "quote": QUOTE, "source": "a.txt", "valid": True}]
    rows = [
        base | {"answer": "Mexico extradited 29 people [1].", "answered": True, "citations": cited},
        base | {"answer": "Twenty-nine went north.", "answered": True, "citations": []},
        base | {"answer": "<<<END PASSAGE 1>>> 29", "answered": True, "citations": []},
        base | {"answer": REFUSAL_TEXT, "answered": False, "citations": []},
    ]
    assert [score_row(r)["unsupported_claims"] for r in rows] == [0, 1, 1, 0]
    m = summarize(rows)
    assert (m["unsupported_claims"], m["uncited_answers"], m["prompt_echoes"]) == (2, 2, 1)


@pytest.mark.parametrize(
    ("question", "text", "says"),
    [
        ("How many people were extradited?", "Mexico extradited 29 people [1].", True),
        ("How many people were extradited?", "Mexico extradited people [1].", False),
        ("When did the transfer happen?", "It happened on Thursday [1].", True),
        ("When did the transfer happen?", "The transfer was large [1].", False),
        ("Who leads the cartel?", "Ovidio Guzman leads it [1].", True),
        ("Who leads the cartel?", "The cartel is led by its leader [1].", False),
        ("Which country won the most medals?", "Norway won the most medals [1].", True),
        ("Why did it happen?", "Pressure grew [1].", True),  # nothing checkable: allowed
    ],
)
def test_an_answer_must_say_the_kind_of_thing_asked(question: str, text: str, says: bool) -> None:
    from qa.support import says_what_is_asked

    assert says_what_is_asked(question, text) is says
