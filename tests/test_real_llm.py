"""LLM mode against a real small model (SmolLM2-135M on llama.cpp's server), end to end.

Why: a tiny model ignores instructions, echoes its prompt and invents facts; whatever it
does, what corpus-qa shows must be checked claims with exact citations, never the prompt,
and generation must stay bounded. Runs in `make test` (tests/llama_server.py).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eval.metrics import answer_claims, claim_supported
from qa import REFUSAL_TEXT, Answer, Engine, Settings
from qa.endpoint import Endpoint
from qa.guard import is_echo
from qa.prompt import ANSWER_REQUEST
from tests import test_llm as llm_tests
from tests.llama_server import LlamaServer, llama_server_fixture  # noqa: F401
from tests.openai_server import free_port_url

QUESTIONS = [
    "How many alleged drug traffickers did Mexico extradite to the US?",
    "Who is Caro Quintero?",
    "What is the boiling point of liquid nitrogen on Mars?",  # off-topic
]


def settings_for(server: LlamaServer, data: Path, **overrides: Any) -> Settings:
    env = {k.lower().removeprefix("qa_"): v for k, v in server.env().items()}
    values: dict[str, Any] = {
        "data_dir": data,
        "llm": "openai",
        "openai_base_url": env["openai_base_url"],
        "openai_api_key": env["openai_api_key"],
        "llm_model": env["llm_model"],
        "llm_context_tokens": int(env["llm_context_tokens"]),
        "llm_timeout": float(env["llm_timeout"]),
        "llm_retries": 0,
        "top_k": int(env["top_k"]),
    }
    return Settings(**(values | overrides))


@pytest.fixture(scope="module")
def engine(llama_server: LlamaServer, corpus_index: Path) -> Iterator[Engine]:
    eng = Engine(settings_for(llama_server, corpus_index))
    yield eng
    eng.close()


def assert_guarded(engine: Engine, answer: Answer | dict[str, Any]) -> None:
    """What the user sees: exact citations, only supported claims, never the prompt."""
    a = answer if isinstance(answer, dict) else answer.to_dict()
    text, citations = a["answer"], a["citations"]
    for c in citations:
        assert engine.document_text(c["path"])[c["start"] : c["end"]] == c["quote"]
    assert {int(n) for n in re.findall(r"\[(\d+)\]", text)} == {c["n"] for c in citations}
    assert not is_echo(text) and "<<<" not in text and ANSWER_REQUEST not in text, text
    if not a["answered"]:
        assert (text, citations) == (REFUSAL_TEXT, [])
        return
    if a["mode"] == "extractive":
        assert a["notice"], "a fallback always says why"
    quotes = {c["n"]: c["quote"] for c in citations}
    for claim, cited in answer_claims(text):
        assert cited, f"uncited claim shown: {claim!r}"
        assert claim_supported(claim, [quotes[n] for n in cited]), (claim, cited, quotes)


@pytest.mark.parametrize("question", QUESTIONS)
def test_ask_shows_only_checked_claims(engine: Engine, question: str) -> None:
    events = list(engine.stream(question))
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert_guarded(engine, answer)
    deltas = "".join(e for e in events[:-1] if isinstance(e, str))
    assert deltas.endswith(answer.text)  # the stream showed the checked text, nothing else
    assert not is_echo(deltas) and "<<<" not in deltas
    if answer.mode == "llm" and answer.answered:
        assert deltas == answer.text


def test_generation_is_bounded_by_max_tokens_and_stop(
    llama_server: LlamaServer, corpus_index: Path
) -> None:
    """Counted in tokens (llama.cpp streams one token per chunk; usage when not streamed).
    That our requests carry STOP is tested against the scripted server (test_llm.py)."""
    settings = settings_for(llama_server, corpus_index, llm_max_tokens=16)
    endpoint = Endpoint(settings)
    essay = [{"role": "user", "content": "Write a long essay about the history of rivers."}]
    pieces = list(endpoint.stream(essay))
    assert 0 < len(pieces) <= 16 and endpoint.finish_reason == "length"
    client = endpoint.client
    rivers = [{"role": "user", "content": "Tell me about rivers in three sentences."}]
    free = client.chat.completions.create(
        model=endpoint.model, messages=rivers, max_tokens=60, temperature=0
    )
    said = free.choices[0].message.content
    words = said.split()
    assert free.usage.completion_tokens <= 60 and len(words) >= 6, said
    stop = f" {words[4]}"  # greedy decoding: the same reply, cut where that word begins
    stopped = client.chat.completions.create(
        model=endpoint.model, messages=rivers, max_tokens=60, temperature=0, stop=[stop]
    )
    cut = stopped.choices[0].message.content
    assert stop not in cut and said.startswith(cut) and stopped.choices[0].finish_reason == "stop"
    assert stopped.usage.completion_tokens < free.usage.completion_tokens


def test_the_default_answer_request_is_short(engine: Engine) -> None:
    assert engine.settings.llm_max_tokens <= 256


def test_server_down_falls_back_to_the_extractive_answer(corpus_index: Path) -> None:
    url = free_port_url()
    eng = Engine(
        Settings(
            data_dir=corpus_index, llm="openai", openai_base_url=url, llm_model="x", llm_retries=0
        )
    )
    answer = eng.ask(QUESTIONS[0])
    assert answer.mode == "extractive" and answer.notice and url in answer.notice
    assert_guarded(eng, answer)
    eng.close()


def qa_cli(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return llm_tests.qa_cli(args, env, stdin, timeout=600)  # a real model on 2 cores


def test_cli_ask_and_chat(llama_server: LlamaServer, corpus_index: Path, engine: Engine) -> None:
    env = llama_server.env() | {"QA_DATA_DIR": str(corpus_index)}
    asked = qa_cli(["ask", QUESTIONS[1], "--json"], env)
    assert asked.returncode == 0, asked.stderr
    assert_guarded(engine, json.loads(asked.stdout))
    chat = qa_cli(["chat"], env, stdin=f"{QUESTIONS[0]}\nWhen did that happen?\n\n")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.count("? ") >= 2  # both questions were answered in turn
    assert "<<<" not in chat.stdout and not is_echo(chat.stdout)
    assert ANSWER_REQUEST not in chat.stdout and "Standalone question" not in chat.stdout


def test_ui_ask_endpoint(llama_server: LlamaServer, corpus_index: Path, engine: Engine) -> None:
    from gradio_client import Client

    from tests.test_ui import free_port
    from ui.app import launch

    ui_engine = Engine(settings_for(llama_server, corpus_index))
    app, url = launch(ui_engine, host="127.0.0.1", port=free_port())
    try:
        reply = Client(url, verbose=False).predict(QUESTIONS[0], api_name="/ask")
        assert_guarded(engine, json.loads(reply))
    finally:
        app.close()
        ui_engine.close()
