"""Odd questions get an answer or a clear one-line error, in bounded memory.

Through the Python API (on the shared corpus index), through the CLI in-process (click's
runner: the real command and its error handling, the model already loaded) and, for the cases
that must never reach the model or that depend on the process's argv decoding, as real `qa`
processes. A bad question is refused before the index is opened: its data folder stays
untouched. How long anything takes is a figure for bench/, never asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import Answer, Engine, InputError, Settings
from qa.cli import cli
from qa.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
QA = ROOT / ".venv" / "bin" / "qa"
BIG = "Who was extradited to the United States? " * 2500  # ~100 KB

ANSWERABLE = [  # odd, but a question: an Answer (answered or refused), never an exception
    pytest.param("Who\x00 was\x1b[31m extradited\x07 to the\x7f US?", id="control-chars"),
    pytest.param("¿Quién fue extraditado a Estados Unidos?", id="spanish"),
    pytest.param("誰がアメリカに引き渡されましたか？", id="japanese"),
    pytest.param("Кто был экстрадирован в США?", id="russian"),
    pytest.param("من تم تسليمه إلى الولايات المتحدة؟", id="arabic"),
    pytest.param("the of and a to is it what", id="only-stop-words"),
    pytest.param("?!?! ... ,,, ;;", id="only-punctuation"),
    pytest.param('NEAR("cartel" OR *) AND -"x" ^col:1', id="fts5-syntax"),
    pytest.param("🔥🚀 extradited? 🇲🇽➡️🇺🇸", id="emoji"),
    pytest.param("Who was e\u0301xtradited\u200b\u202e?\ufeff", id="combining-zero-width-rtl"),
    pytest.param("Who was extradited \udcff\udcfe?", id="lone-surrogates"),
]

REJECTED = [  # not a question: InputError with a one-line message
    pytest.param("", "the question is empty", id="empty"),
    pytest.param("   \n\t \r\n  ", "the question is empty", id="whitespace"),
    pytest.param("\x00\x01\x02\x1b\x7f", "the question is empty", id="only-control-chars"),
    pytest.param(BIG, "characters long; the limit is 2000", id="100KB"),
    pytest.param("x" * 10_000_000, "characters long; the limit is 2000", id="10MB"),
]


def check_citations(engine: Engine, answer: Answer) -> None:
    assert isinstance(answer.text, str) and answer.text
    for c in answer.citations:
        assert c.quote == engine.document_text(c.path)[c.start : c.end]


@pytest.mark.parametrize("question", ANSWERABLE)
def test_odd_questions_get_an_answer(corpus_engine: Engine, question: str) -> None:
    answer = corpus_engine.ask(question)
    check_citations(corpus_engine, answer)
    assert "\x00" not in answer.question
    assert not any("\ud800" <= ch <= "\udfff" for ch in answer.question)


@pytest.mark.parametrize(("question", "message"), REJECTED)
def test_non_questions_are_refused_at_once_with_one_line(
    make_engine: Callable[..., Engine], question: str, message: str
) -> None:
    engine = make_engine()
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as err:
            engine.ask(question)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.exit_code == 2
    assert not engine.settings.data_dir.exists()  # refused before the index was opened
    assert peak < 1_000_000 + 2 * len(question)  # no copies multiplied by the input's size


def test_streaming_refuses_bad_input_before_any_token(corpus_engine: Engine) -> None:
    with pytest.raises(InputError):
        next(corpus_engine.stream("   "))


def test_retrieval_alone_survives_odd_queries(corpus_engine: Engine) -> None:
    """FTS5 syntax and odd text reach no parser error: up to 3 real passages each."""
    for q in ['"', "*", "AND", "NOT NOT", "x" * 2000, "\u0000"]:
        passages = corpus_engine.retrieve(q, 3)
        assert len(passages) <= 3, q
        for p in passages:
            assert p.text == corpus_engine.document_text(p.path)[p.start : p.end]
        assert len({p.chunk_id for p in passages}) == len(passages), q
    assert len(corpus_engine.retrieve("x" * 2000, 3)) == 3  # the dense half still ranks


def test_a_question_at_the_limit_is_answered_in_bounded_memory(corpus_engine: Engine) -> None:
    question = " ".join(f"word{i}" for i in range(330))[:2000]  # 2000 chars, 330 distinct terms
    corpus_engine.ask("warm up")
    tracemalloc.start()
    try:
        answer = corpus_engine.ask(question)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    check_citations(corpus_engine, answer)
    assert peak < 200 * 2**20, f"{peak / 2**20:.0f} MB of Python objects for one question"


# ---- the CLI, in-process -------------------------------------------------------------------
@pytest.fixture
def cli_env(corpus_engine: Engine) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {"QA_DATA_DIR": str(corpus_engine.settings.data_dir)}
    get_settings.cache_clear()


@pytest.mark.parametrize(("question", "message"), REJECTED[:4])
def test_cli_ask_bad_input_exits_2_with_one_line(
    cli_env: dict[str, str], question: str, message: str
) -> None:
    result = CliRunner().invoke(cli, ["ask", question, "--json"], env=cli_env)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    error = json.loads(result.stderr)  # with --json, the error is one JSON object too
    assert error["exit_code"] == 2 and message in error["error"]


@pytest.mark.parametrize("question", ANSWERABLE)
def test_cli_ask_odd_questions_exit_0_with_json(cli_env: dict[str, str], question: str) -> None:
    result = CliRunner().invoke(cli, ["ask", question, "--json"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert isinstance(result.exception, SystemExit | None)
    out = json.loads(result.stdout)
    assert isinstance(out["answered"], bool)
    for c in out["citations"]:
        assert c["quote"] and c["end"] - c["start"] == len(c["quote"])


def test_cli_chat_reports_bad_input_and_carries_on(cli_env: dict[str, str]) -> None:
    turns = "x" * 3000 + "\n" + "\x01\x02 \n" + "Who was extradited?\n" + "\n"
    result = CliRunner().invoke(cli, ["chat"], input=turns, env=cli_env)
    assert result.exit_code == 0, result.output
    assert "characters long; the limit is 2000" in result.stderr
    assert "[1]" in result.stdout  # the real question after the bad ones was answered


# ---- the CLI, as real processes ------------------------------------------------------------
def run_qa(
    args: list[str | bytes], data: Path, timeout: float = 120
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(QA_DATA_DIR=str(data), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run([str(QA), *args], capture_output=True, env=env, cwd=data, timeout=timeout)


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", b"error: the question is empty\n"),
        ("  \t  ", b"error: the question is empty\n"),
        (BIG[:120_000], b"error: the question is 102500 characters long; the limit is 2000\n"),
    ],
    ids=["empty", "whitespace", "100KB"],
)
def test_qa_ask_process_bad_input_is_exit_2_one_line_no_traceback(
    tmp_path: Path, question: str, message: bytes
) -> None:
    res = run_qa(["ask", question], tmp_path)
    assert (res.returncode, res.stdout, res.stderr) == (2, b"", message)
    assert list(tmp_path.iterdir()) == []  # refused before the index was opened


def test_qa_ask_process_with_argv_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    """A Latin-1 terminal sends b'\\xe9' for é: Python hands us a lone surrogate."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The café in Genève was rebuilt in 1906 after the fire.\n")
    indexer = Engine(Settings(data_dir=tmp_path))  # in-process: the model is already loaded
    assert indexer.ingest([docs]).added == 1
    indexer.close()
    res = run_qa(["ask", "--json", b"When was the caf\xe9 in Gen\xe8ve rebuilt?"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert b"Traceback" not in res.stderr and b"Embedding attempt failed" not in res.stderr
    out = json.loads(res.stdout)
    assert out["question"] == "When was the café in Genève rebuilt?"
    assert out["answered"] and "1906" in out["answer"]
