"""The eval metrics, gates and runner on hand-made cases whose figures are known.

Why: `qa eval` gates CI on these numbers, so each one is pinned here on cases small
enough to check by hand, including the edge cases (no citations, refusals, empty gold
sources, no unanswerable questions). The runner is driven by a scripted stand-in engine
that returns real `qa` Answer objects, so its bookkeeping is tested without a model.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from eval.gates import check_gates, parse_gates
from eval.judge import llm_judge
from eval.metrics import (
    METRIC_NAMES,
    citation_valid,
    contains_answer,
    exact_match,
    f1,
    failure_kind,
    hit_at_k,
    normalize,
    percentile,
    reciprocal_rank,
    score_row,
    summarize,
)
from eval.report import to_json, to_markdown
from eval.runner import EvalResult, run_eval
from qa.settings import Settings
from qa.types import Answer, Citation, Passage
from tests.openai_server import OpenAIServer, free_port_url

# --- normalisation and answer matching -------------------------------------------------


def test_normalize_folds_case_width_ligatures_punctuation_and_spaces() -> None:
    assert normalize("  The U.S.–Mexico\n “deal”!  ") == "the u s mexico deal"
    assert normalize("ﬁve ２９") == "five 29"  # NFKC: ligature and full-width digits
    assert normalize("Dr.Ramirez") == "dr ramirez"  # punctuation separates words


def test_contains_answer_matches_whole_words_after_normalisation() -> None:
    assert contains_answer("Rafael Caro-Quintero was sent [1].", ["caro quintero"])
    assert contains_answer("They were flown to 8 cities.", ["eight", "8"])
    assert not contains_answer("It happened in 1929.", ["29"])  # no partial-word hits
    assert not contains_answer("Mexico sent them [1].", ["1"])  # citation markers ignored
    assert not contains_answer("anything", [])


def test_exact_match_ignores_articles_and_punctuation_only() -> None:
    assert exact_match("The Guadalajara cartel.", ["Guadalajara Cartel"]) == 1.0
    assert exact_match("Guadalajara", ["Guadalajara Cartel"]) == 0.0


def test_f1_is_squad_token_overlap_best_over_gold_answers() -> None:
    # 2 of 4 predicted tokens are gold, both gold tokens found: P=0.5, R=1, F1=2/3.
    prediction = "The Guadalajara cartel was powerful"
    assert f1(prediction, ["Guadalajara cartel"]) == pytest.approx(2 / 3)
    assert f1(prediction, ["powerful", "Guadalajara cartel"]) == pytest.approx(2 / 3)
    assert f1(prediction, ["Sinaloa"]) == 0.0
    assert f1(prediction, []) == 0.0


# --- retrieval and citations -----------------------------------------------------------


def test_hit_and_rank_count_documents_not_passages() -> None:
    retrieved = ["a.txt", "a.txt", "b.txt", "c.txt"]  # c is the 3rd distinct document
    assert hit_at_k(retrieved, ["c.txt"], 1) == 0.0
    assert hit_at_k(retrieved, ["c.txt"], 3) == 1.0
    assert reciprocal_rank(retrieved, ["c.txt", "b.txt"]) == pytest.approx(1 / 2)
    assert reciprocal_rank(retrieved, ["z.txt"]) == 0.0


def test_retrieval_is_undefined_without_gold_sources() -> None:
    assert hit_at_k(["a.txt"], [], 5) is None
    assert reciprocal_rank(["a.txt"], []) is None


def test_citation_valid_requires_the_exact_span() -> None:
    text = "Mexico extradited 29 people."
    assert citation_valid("29 people", text, 18, 27)
    assert not citation_valid("29 people", text, 17, 26)  # off by one
    assert not citation_valid("29 people.", text, 18, 40)  # past the end
    assert not citation_valid("", text, 3, 3)  # an empty quote proves nothing


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([40, 10, 30, 20], 50) == 25
    assert percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    assert percentile([], 50) is None


# --- rows, failure labels, summary -----------------------------------------------------


def row(kind: str = "factoid", **fields: Any) -> dict[str, Any]:
    """A scored-row input: gold fields plus what the engine did (defaults: a refusal)."""
    base: dict[str, Any] = {
        "type": kind,
        "answers": [] if kind == "unanswerable" else ["29"],
        "sources": [] if kind == "unanswerable" else ["a.txt"],
        "answer": "I could not find this in the documents.",
        "answered": False,
        "retrieved": [],
        "citations": [],
        "latency_ms": 100.0,
    }
    return base | fields


CORRECT = row(
    answer="Mexico extradited 29 people [1].",
    answered=True,
    retrieved=["a.txt", "b.txt"],
    citations=[{"source": "a.txt", "valid": True}],
    latency_ms=100.0,
)
FALSE_REFUSAL = row(retrieved=["a.txt"], latency_ms=200.0)
RIGHT_REFUSAL = row("unanswerable", latency_ms=300.0)
MISSED_REFUSAL = row(
    "unanswerable",
    answer="They flew at dawn [1].",
    answered=True,
    retrieved=["b.txt"],
    citations=[{"source": "b.txt", "valid": False}],
    latency_ms=400.0,
)


def test_summarize_on_four_hand_checked_rows() -> None:
    metrics = summarize([CORRECT, FALSE_REFUSAL, RIGHT_REFUSAL, MISSED_REFUSAL])
    assert set(METRIC_NAMES) <= metrics.keys()
    assert json.loads(json.dumps(metrics)) == metrics  # JSON-ready as it is
    expected = {
        "n": 4,
        "n_answerable": 2,
        "n_unanswerable": 2,
        "n_citations": 2,
        "hit@1": 1.0,  # both answerable rows retrieved a.txt first
        "hit@3": 1.0,
        "hit@5": 1.0,
        "mrr": 1.0,
        "answer_accuracy": 0.5,  # the refusal scores 0
        "exact_match": 0.0,
        "f1": 0.2,  # (2*0.25*1/1.25 = 0.4 for "mexico extradited 29 people" + 0) / 2
        "citation_validity": 0.5,  # one of the two citations is the exact span
        "citation_precision": 1.0,  # only questions with gold sources count
        "refusal_accuracy": 0.5,
        "false_refusal_rate": 0.5,
        "answer_chars_median": (32 + 22) / 2,
        "latency_ms_p50": 250.0,
        "latency_ms_p95": 385.0,
    }
    assert {k: metrics[k] for k in expected} == expected


def test_summarize_with_no_citations_leaves_citation_metrics_unmeasured() -> None:
    uncited = row(answer="29 of them.", answered=True, retrieved=["a.txt"])
    metrics = summarize([uncited, RIGHT_REFUSAL])
    assert metrics["n_citations"] == 0
    assert metrics["citation_validity"] is None
    assert metrics["citation_precision"] is None
    assert metrics["answer_accuracy"] == 1.0


def test_a_row_without_answer_strings_counts_for_retrieval_and_citations_only() -> None:
    judged_by_source = row(
        "long",
        answers=[],
        answer="Net sales fell 3 % [1].",
        answered=True,
        retrieved=["a.txt"],
        citations=[{"source": "b.txt", "valid": True}],
    )
    scores = score_row(judged_by_source)
    assert scores["correct"] is scores["f1"] is None and scores["hit@1"] == 1.0
    assert failure_kind(judged_by_source, scores) is None
    metrics = summarize([CORRECT, judged_by_source])
    assert metrics["answer_accuracy"] == 1.0  # over the one row that has answer strings
    assert metrics["citation_precision"] == 0.5 and metrics["false_refusal_rate"] == 0.0


def test_summarize_without_unanswerable_questions_has_no_refusal_accuracy() -> None:
    metrics = summarize([CORRECT, FALSE_REFUSAL])
    assert metrics["refusal_accuracy"] is None
    assert metrics["n_unanswerable"] == 0
    assert metrics["false_refusal_rate"] == 0.5


def test_summarize_skips_retrieval_for_questions_without_gold_sources() -> None:
    no_sources = row(sources=[], answer="29.", answered=True, retrieved=["b.txt"])
    metrics = summarize([no_sources])
    assert metrics["hit@1"] is None and metrics["mrr"] is None
    assert metrics["answer_accuracy"] == 1.0
    assert summarize([no_sources, FALSE_REFUSAL])["hit@5"] == 1.0


def test_summarize_with_only_refusals_and_no_rows() -> None:
    assert summarize([RIGHT_REFUSAL])["answer_chars_median"] is None
    assert summarize([RIGHT_REFUSAL])["answer_accuracy"] is None
    empty = summarize([])
    assert empty["n"] == 0 and empty["latency_ms_p50"] is None


@pytest.mark.parametrize(
    ("case", "label"),
    [
        (CORRECT, None),
        (FALSE_REFUSAL, "false refusal"),
        (RIGHT_REFUSAL, None),
        (row("unanswerable", answer="Yes.", answered=True), "missed refusal"),
        (MISSED_REFUSAL, "invalid citation"),  # a broken citation is reported first
        (row(answered=True, answer="Many.", retrieved=["b.txt"]), "retrieval miss"),
        (row(retrieved=["b.txt"]), "retrieval miss"),  # refused because nothing relevant came
        (row(answered=True, answer="Many people.", retrieved=["a.txt"]), "wrong sentence"),
    ],
)
def test_failure_kind_names_the_most_fundamental_cause(
    case: dict[str, Any], label: str | None
) -> None:
    assert failure_kind(case, score_row(case)) == label


# --- gates -----------------------------------------------------------------------------


def test_parse_gates_reads_metric_equals_value() -> None:
    assert parse_gates(["hit@5=0.8", " mrr = 0.5"]) == {"hit@5": 0.8, "mrr": 0.5}
    assert parse_gates([]) == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("hits@5=0.8", "unknown metric 'hits@5'"),
        ("hit@5", "expected METRIC=VALUE"),
        ("hit@5=high", "'high' is not a number"),
    ],
)
def test_parse_gates_rejects_bad_specs_in_one_line(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_gates([spec])
    assert "\n" not in str(info.value)


def test_gate_fails_when_the_threshold_is_above_the_figure() -> None:
    metrics = {"hit@5": 0.8, "mrr": 0.7, "latency_ms_p95": 120.0, "refusal_accuracy": None}
    assert check_gates(metrics, {"hit@5": 0.8, "mrr": 0.69}, {"latency_ms_p95": 120}) == []
    failures = check_gates(metrics, {"hit@5": 0.81, "mrr": 0.9}, {"latency_ms_p95": 100})
    assert failures == [
        "hit@5 = 0.8 is below the minimum 0.81",
        "mrr = 0.7 is below the minimum 0.9",
        "latency_ms_p95 = 120 is above the maximum 100",
    ]
    assert check_gates(metrics, {"refusal_accuracy": 0.5}) == [
        "refusal_accuracy was not measured (gate minimum 0.5)"
    ]
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        check_gates(metrics, {"accuracy": 0.5})


# --- the runner on a scripted engine ---------------------------------------------------

DOCS = {
    "corpus/a.txt": "Mexico extradited 29 people on Thursday.",
    "corpus/b.txt": "Tariffs were threatened.",
}


def passage(path: str) -> Passage:
    name = path.rsplit("/", 1)[-1]
    return Passage(f"{name}#0", name, path, DOCS[path], 0, len(DOCS[path]), None, 1.0)


def cite(path: str, start: int, end: int, quote: str | None = None) -> Citation:
    name = path.rsplit("/", 1)[-1]
    text = DOCS[path][start:end] if quote is None else quote
    return Citation(1, name, path, text, start, end, None, 0.9)


class ScriptedEngine:
    """Answers each question as scripted; records the top_k it was asked with."""

    def __init__(self, script: dict[str, Answer | Exception]) -> None:
        self.script, self.top_ks, self.settings = script, [], Settings(top_k=4)

    def ask(self, question: str, *, top_k: int | None = None) -> Answer:
        self.top_ks.append(top_k)
        reply = self.script[question]
        if isinstance(reply, Exception):
            raise reply
        return reply

    def document_text(self, path: str) -> str:
        return DOCS[path]


def answer(question: str, text: str, citations: list[Citation], retrieved: list[str]) -> Answer:
    return Answer(
        question=question,
        text=text,
        answered=bool(citations),
        citations=citations,
        timings_ms={"total": 50.0},
        retrieved=[passage(p) for p in retrieved],
    )


GOLD = [
    {"id": "q1", "question": "How many?", "answers": ["29"], "sources": ["a.txt"],
     "type": "factoid"},
    {"id": "q2", "question": "When?", "answers": ["Thursday"], "sources": ["a.txt"],
     "type": "factoid"},
    {"id": "q3", "question": "Which judge?", "answers": [], "sources": [],
     "type": "unanswerable"},
    {"id": "q4", "question": "Why?", "answers": ["tariffs"], "sources": ["b.txt"],
     "type": "factoid"},
]  # fmt: skip


def scripted_run(**kwargs: Any) -> tuple[EvalResult, ScriptedEngine]:
    engine = ScriptedEngine(
        {
            "How many?": answer("How many?", "29 people [1].", [cite("corpus/a.txt", 18, 27)],
                                ["corpus/a.txt", "corpus/a.txt", "corpus/b.txt"]),
            "When?": answer("When?", "On Thursday [1].",
                            [cite("corpus/a.txt", 30, 40, quote="Thursday.")], ["corpus/a.txt"]),
            "Which judge?": answer("Which judge?", "I could not find this.", [],
                                   ["corpus/b.txt"]),
            "Why?": RuntimeError("store went away\nTraceback..."),
        }
    )  # fmt: skip
    return run_eval(engine, GOLD, **kwargs), engine


def test_run_eval_scores_each_question_and_checks_citations_against_the_text() -> None:
    progress: list[tuple[int, int]] = []
    result, engine = scripted_run(top_k=3, progress=lambda d, t: progress.append((d, t)))
    assert engine.top_ks == [3, 3, 3, 3]
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]
    rows = {r["id"]: r for r in result.rows}
    assert rows["q1"]["retrieved"] == ["a.txt", "b.txt"]  # document level, deduplicated
    assert rows["q1"]["citations"][0]["valid"] is True and rows["q1"]["failure"] is None
    assert rows["q2"]["citations"][0]["valid"] is False  # quote is not text[30:40]
    assert rows["q2"]["failure"] == "invalid citation"
    assert rows["q3"]["failure"] is None and rows["q3"]["latency_ms"] == 50.0
    assert rows["q4"]["failure"] == "error"
    assert rows["q4"]["error"] == "RuntimeError: store went away"
    assert result.metrics["n_errors"] == 1
    assert result.metrics["citation_validity"] == 0.5
    assert result.metrics["refusal_accuracy"] == 1.0
    assert result.metrics["false_refusal_rate"] == 0.3333  # the error row; 4 places
    assert result.info["top_k"] == 3 and result.info["mode"] == "extractive"


def test_an_engine_error_never_counts_as_a_correct_refusal() -> None:
    engine = ScriptedEngine({"Which judge?": TimeoutError("slow")})
    result = run_eval(engine, [GOLD[2]])
    assert result.metrics["refusal_accuracy"] == 0.0
    assert result.rows[0]["failure"] == "error"


def test_to_json_round_trips_metrics_rows_and_info() -> None:
    result, _ = scripted_run()
    data = json.loads(to_json(result))
    assert data["metrics"] == result.metrics
    assert [r["id"] for r in data["rows"]] == ["q1", "q2", "q3", "q4"]
    assert data["info"]["top_k"] == 4  # the engine's setting when none was given


def test_markdown_report_has_the_table_and_failures_grouped_by_kind() -> None:
    result, _ = scripted_run()
    report = to_markdown(result)
    assert "| metric | value |" in report and "| hit@1 | 0.667 |" in report
    assert "### invalid citation (1)" in report and "`q2` When?" in report
    assert "### error (1)" in report and "RuntimeError: store went away" in report
    assert "baseline" not in report


def test_markdown_report_compares_with_a_baseline() -> None:
    result, _ = scripted_run()
    baseline = json.loads(to_json(result))
    baseline["metrics"]["answer_accuracy"] = 1.0
    baseline["metrics"]["latency_ms_p95"] = 10.0
    baseline["rows"][0]["failure"] = "wrong sentence"  # q1 was failing then
    baseline["rows"][1]["failure"] = None  # q2 was passing then
    report = to_markdown(result, baseline)
    assert "| metric | value | baseline | Δ |" in report
    assert "| answer_accuracy | 0.667 | 1.000 | -0.333 ✗ |" in report
    assert "| latency_ms_p95 | 50.0 | 10.0 | +40.0 ✗ |" in report
    assert "| hit@5 | 0.667 | 0.667 | = |" in report
    assert "Now failing: 1\n- `q2` (invalid citation) When?" in report
    assert "Now passing: 1\n- `q1` (was wrong sentence) How many?" in report


# --- the optional LLM judge ------------------------------------------------------------


def test_judge_is_skipped_with_a_note_when_no_llm_is_configured() -> None:
    result, _ = scripted_run()
    assert "faithfulness" not in result.metrics
    assert "answer_relevancy" not in result.metrics
    assert any("skipped" in note for note in result.info["notes"])
    assert "> LLM-judged metrics skipped" in to_markdown(result)


def judge_settings(base_url: str) -> Settings:
    return Settings(llm="openai", openai_base_url=base_url, openai_api_key="k",
                    llm_model="judge-1", llm_timeout=2)  # fmt: skip


def test_judge_grades_answered_rows_through_the_endpoint(openai_server: OpenAIServer) -> None:
    result, _ = scripted_run(judge=False)
    openai_server.reply("5", "4", "Grade: 3", "no idea")  # q1 faith, q1 rel, q2 faith, q2 rel
    metrics, notes = llm_judge(result.rows, judge_settings(openai_server.base_url))
    assert metrics == {"faithfulness": 0.75, "answer_relevancy": 0.75}  # (1+0.5)/2, 0.75/1
    assert notes == ["LLM-judged metrics graded by judge-1"]
    assert len(openai_server.chat_requests) == 4  # refusals and errors are not graded
    assert "[1] 29 people" in openai_server.chat_requests[0].prompt_text
    assert result.rows[1]["scores"]["answer_relevancy"] is None


def test_a_failing_judge_endpoint_does_not_crash_the_run() -> None:
    result, _ = scripted_run(judge=False)
    metrics, notes = llm_judge(result.rows, judge_settings(free_port_url()))
    assert metrics == {}
    assert notes == ["LLM-judged metrics skipped: the endpoint failed (APIConnectionError)"]
    assert all("faithfulness" not in r["scores"] for r in result.rows)
