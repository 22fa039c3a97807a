"""The test-side OpenAI server, driven by the real `openai` client over real HTTP.

Why: later LLM tests trust this server to behave like an OpenAI-compatible endpoint;
these tests pin that the real client parses its replies, streams and errors correctly.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import openai
import pytest

from tests.openai_server import (
    OpenAIServer,
    free_port_url,
    openai_server_fixture,  # noqa: F401 - registers the `openai_server` fixture
    split_tokens,
)

MESSAGES: list[Any] = [
    {"role": "system", "content": "Answer from the passages."},
    {"role": "user", "content": "Who was extradited?"},
]


def client_for(srv: OpenAIServer, timeout: float = 1.5) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key="test", max_retries=0, timeout=timeout)


def test_completion_returns_scripted_text_and_records_request(
    openai_server: OpenAIServer,
) -> None:
    openai_server.reply("The captain was extradited [1].")
    result = client_for(openai_server).chat.completions.create(
        model="m-1", messages=MESSAGES, temperature=0
    )
    assert result.choices[0].message.content == "The captain was extradited [1]."
    assert result.choices[0].finish_reason == "stop"
    assert result.object == "chat.completion" and result.id.startswith("chatcmpl-")
    assert result.model == "m-1" and result.created > 0
    assert result.usage is not None and result.usage.total_tokens > 0
    request = openai_server.last_request
    assert request.method == "POST" and request.path == "/v1/chat/completions"
    assert request.messages == MESSAGES
    assert request.body["temperature"] == 0
    assert request.headers["authorization"] == "Bearer test"
    assert "Who was extradited?" in request.prompt_text


def test_script_is_consumed_in_order_then_responder_answers(
    openai_server: OpenAIServer,
) -> None:
    client = client_for(openai_server)
    openai_server.reply("first", "second")
    openai_server.respond_with(lambda body: f"echo: {body['messages'][-1]['content']}")
    answers = [
        client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content
        for _ in range(3)
    ]
    assert answers == ["first", "second", "echo: Who was extradited?"]
    assert len(openai_server.chat_requests) == 3 and openai_server.pending == 0


def test_stream_delivers_several_deltas_that_join_to_the_text(
    openai_server: OpenAIServer,
) -> None:
    text = "Paris is the capital [1]. It is large [2]."
    openai_server.reply(text)
    stream = client_for(openai_server).chat.completions.create(
        model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices]
    pieces = [d for d in deltas if d]
    assert len(pieces) == len(text.split()) and "".join(pieces) == text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert openai_server.last_request.body["stream"] is True


def test_stream_tokens_arrive_over_time(openai_server: OpenAIServer) -> None:
    openai_server.reply("one two three four", chunk_delay=0.05)
    stream = client_for(openai_server).chat.completions.create(
        model="m", messages=MESSAGES, stream=True
    )
    arrivals = [time.monotonic() for c in stream if c.choices and c.choices[0].delta.content]
    assert len(arrivals) == 4 and arrivals[-1] - arrivals[0] >= 0.1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, openai.InternalServerError),
        (401, openai.AuthenticationError),
        (429, openai.RateLimitError),
    ],
)
def test_failures_raise_the_matching_openai_error(
    openai_server: OpenAIServer, status: int, error: type[openai.APIStatusError]
) -> None:
    openai_server.fail(status, message="scripted failure")
    client = client_for(openai_server)
    with pytest.raises(error) as raised:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert raised.value.status_code == status
    body = raised.value.body
    assert isinstance(body, dict) and body["message"] == "scripted failure"
    reply = client.chat.completions.create(model="m", messages=MESSAGES)
    assert reply.choices[0].message.content == "OK"  # the failure was used up


def test_client_retries_through_failures_using_retry_after(
    openai_server: OpenAIServer,
) -> None:
    openai_server.fail(429, times=2, retry_after=0.01)
    openai_server.reply("after retries")
    client = openai_server.client(max_retries=2, timeout=1.5)
    reply = client.chat.completions.create(model="m", messages=MESSAGES)
    assert reply.choices[0].message.content == "after retries"
    assert len(openai_server.chat_requests) == 3


def test_delay_longer_than_timeout_raises_api_timeout(openai_server: OpenAIServer) -> None:
    openai_server.delay(1.0)
    with pytest.raises(openai.APITimeoutError):
        client_for(openai_server, timeout=0.2).chat.completions.create(model="m", messages=MESSAGES)


def test_delay_shorter_than_timeout_still_answers(openai_server: OpenAIServer) -> None:
    openai_server.delay(0.2, text="late")
    reply = client_for(openai_server).chat.completions.create(model="m", messages=MESSAGES)
    assert reply.choices[0].message.content == "late"
    assert len(openai_server.chat_requests) == 1  # answered late, on its one request


def test_disconnect_raises_connection_error(openai_server: OpenAIServer) -> None:
    openai_server.disconnect()
    with pytest.raises(openai.APIConnectionError):
        client_for(openai_server).chat.completions.create(model="m", messages=MESSAGES)


def test_disconnect_mid_stream_breaks_the_stream(openai_server: OpenAIServer) -> None:
    openai_server.respond_with(lambda _body: "one two three four")
    openai_server.disconnect(after_chunks=2)
    stream = client_for(openai_server).chat.completions.create(
        model="m", messages=MESSAGES, stream=True
    )
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert len(received) == 2


def test_server_down_raises_connection_error() -> None:
    client = openai.OpenAI(base_url=free_port_url(), api_key="t", max_retries=0, timeout=1)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=MESSAGES)


def test_models_endpoint(openai_server: OpenAIServer) -> None:
    models = client_for(openai_server).models.list()
    assert [m.id for m in models.data] == ["test-model"]
    assert openai_server.requests[-1].path == "/v1/models"
    assert openai_server.chat_requests == []


def test_required_api_key_is_enforced() -> None:
    with OpenAIServer(api_key="sk-right") as srv:
        with pytest.raises(openai.AuthenticationError):
            srv.client(api_key="sk-wrong").chat.completions.create(model="m", messages=MESSAGES)
        reply = srv.client().chat.completions.create(model="m", messages=MESSAGES)
        assert reply.choices[0].message.content == "OK"


def test_stop_is_prompt_with_a_pending_delay_and_idle_keepalive() -> None:
    srv = OpenAIServer().start()
    client = client_for(srv, timeout=5)
    client.chat.completions.create(model="m", messages=MESSAGES)  # leaves a keep-alive open
    srv.delay(30)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            client.chat.completions.create(model="m", messages=MESSAGES)
        except openai.APIError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    while len(srv.chat_requests) < 2:
        time.sleep(0.01)
    srv.stop()
    caller.join()
    # the open call was cut off by stop(), not left to wait out the 30 s delay (the client
    # would then give up with an APITimeoutError after its 5 s) nor answered
    assert [type(e) for e in outcome] == [openai.APIConnectionError]
    assert not [t for t in threading.enumerate() if t.name.startswith("openai-server-")]


def test_responder_bug_becomes_500_and_is_kept() -> None:
    srv = OpenAIServer(responder=lambda body: body["missing"])
    with srv, pytest.raises(openai.InternalServerError, match="KeyError"):
        client_for(srv).chat.completions.create(model="m", messages=MESSAGES)
    assert [type(e) for e in srv.errors] == [KeyError]


def test_split_tokens_round_trips() -> None:
    for text in ["", "  ", "a", " lead and trail  ", "x\n\ny [1]."]:
        assert "".join(split_tokens(text)) == text
    assert split_tokens("a b  c") == ["a", " b", "  c"]
