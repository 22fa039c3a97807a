"""A real OpenAI-compatible HTTP server for tests, scripted per request.

Why: the LLM answerer must be tested through the real `openai` client and real HTTP
(timeouts, retries, SSE parsing, error mapping), not a mock of the client. This server
speaks just enough of the chat-completions protocol for that, and lets a test script
each answer (text, HTTP error, delay, dropped connection) and inspect every request.

    with OpenAIServer() as srv:
        srv.reply("Paris [1].")            # next chat completion answers this
        srv.fail(500, times=2)             # ...or queue errors, delays, disconnects
        client = srv.client(timeout=1)     # real openai.OpenAI, max_retries=0
        srv.last_request.messages          # what the client sent

Script steps are consumed one per chat-completion request, in order; when the script
is empty the responder callable (default: echo a fixed text) answers. Other endpoints
(`/models`) never consume the script.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Responder = Callable[[dict[str, Any]], str]
DEFAULT_MODEL = "test-model"
DEFAULT_REPLY = "OK"

# status -> (error.type, error.code, message), shaped like api.openai.com's error bodies
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "not_found", "Not found."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """The JSON body OpenAI sends with an error status; the client maps it to `.body`."""
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    kind, code, text = _ERRORS.get(status, (default_type, None, HTTPStatus(status).phrase))
    return {"error": {"message": message or text, "type": kind, "param": None, "code": code}}


def split_tokens(text: str) -> list[str]:
    """Word-sized stream pieces, each with its leading whitespace; they join back to `text`."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)) :]
    if tail:
        pieces = [*pieces[:-1], pieces[-1] + tail] if pieces else [tail]
    return pieces


def count_tokens(text: str) -> int:
    """Rough token count (words and punctuation) for `usage`; not tiktoken-exact."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def free_port_url() -> str:
    """A base URL on which nothing listens, for "the server is down" tests."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (headers have lower-case names)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or None when there was no (valid) JSON body
    received_at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent, or [] for a request that had none."""
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    @property
    def prompt_text(self) -> str:
        """All message contents joined, to assert what reached the model."""
        return "\n".join(_message_text(m) for m in self.messages)


@dataclass(frozen=True)
class _Step:
    text: str | None = None  # None: ask the responder
    status: int = 200
    message: str | None = None
    delay: float = 0.0
    disconnect: bool = False
    after_chunks: int = 0
    retry_after: float | None = None
    chunk_delay: float | None = None


class OpenAIServer:
    """Chat-completions server on 127.0.0.1 (free port) run in a daemon thread."""

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        responder: Responder | None = None,
        api_key: str | None = None,
        chunk_delay: float = 0.0,
    ) -> None:
        """`api_key` set: requests without `Bearer <api_key>` get 401 (script untouched)."""
        self.model = model
        self.api_key = api_key
        self.chunk_delay = chunk_delay
        self._responder: Responder = responder or (lambda _body: DEFAULT_REPLY)
        self._script: deque[_Step] = deque()
        self._requests: list[RecordedRequest] = []
        self.errors: list[Exception] = []  # exceptions raised by the responder
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._handlers: dict[_Handler, threading.Thread] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> OpenAIServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"openai-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake delayed handlers, drop open connections, join threads."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            handlers = dict(self._handlers)
        for handler in handlers:
            handler.drop()
        for thread in handlers.values():
            thread.join(timeout=2)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("OpenAIServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """What to pass as the client's base_url / OPENAI_BASE_URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def env(self) -> dict[str, str]:
        """Environment variables pointing corpus-qa (e.g. a `qa` subprocess) at this server."""
        return {
            "QA_LLM": "openai",
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": self.api_key or "test",
            "QA_LLM_MODEL": self.model,
        }

    def client(self, **kwargs: Any) -> Any:
        """A real `openai.OpenAI` for this server; no retries unless asked for."""
        import openai

        kwargs.setdefault("api_key", self.api_key or "test")
        kwargs.setdefault("max_retries", 0)
        return openai.OpenAI(base_url=self.base_url, **kwargs)

    # scripting ---------------------------------------------------------------------------
    def reply(self, *texts: str, delay: float = 0.0, chunk_delay: float | None = None) -> None:
        """Queue one answer per text (streamed word by word when the client streams)."""
        self._push(_Step(text=t, delay=delay, chunk_delay=chunk_delay) for t in texts)

    def respond_with(self, responder: Responder) -> None:
        """Answer with `responder(request_json)` whenever the script is empty."""
        self._responder = responder

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Queue `times` error responses with an OpenAI error body (and retry-after headers)."""
        step = _Step(status=status, message=message, retry_after=retry_after)
        self._push([step] * times)

    def delay(self, seconds: float, *, times: int = 1, text: str | None = None) -> None:
        """Queue `times` answers sent only after `seconds` (text None: the responder's)."""
        self._push([_Step(text=text, delay=seconds)] * times)

    def disconnect(self, *, times: int = 1, after_chunks: int = 0) -> None:
        """Queue dropped connections; a stream first sends `after_chunks` content chunks."""
        self._push([_Step(disconnect=True, after_chunks=after_chunks)] * times)

    def clear(self) -> None:
        """Forget the remaining script and the recorded requests."""
        with self._lock:
            self._script.clear()
            self._requests.clear()

    @property
    def pending(self) -> int:
        """Script steps not yet consumed."""
        with self._lock:
            return len(self._script)

    # inspection --------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.rstrip("/").endswith("/chat/completions")]

    @property
    def last_request(self) -> RecordedRequest:
        """The last chat-completion request; AssertionError when there was none."""
        chats = self.chat_requests
        assert chats, "no chat completion request was received"
        return chats[-1]

    # used by the handler -----------------------------------------------------------------
    def _push(self, steps: Any) -> None:
        with self._lock:
            self._script.extend(steps)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_step(self, body: dict[str, Any]) -> tuple[_Step, str]:
        with self._lock:
            step = self._script.popleft() if self._script else _Step()
        if step.text is not None or step.status != 200:
            return step, step.text or ""
        try:
            return step, self._responder(body)
        except Exception as exc:  # a bug in the test's responder: surface it, answer 500
            with self._lock:
                self.errors.append(exc)
            return replace(step, status=500, message=f"responder raised {exc!r}"), ""

    def _track(self, handler: _Handler, alive: bool) -> None:
        with self._lock:
            if alive:
                self._handlers[handler] = threading.current_thread()
            else:
                self._handlers.pop(handler, None)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client can never keep the test process alive

    def __init__(self, address: tuple[str, int], handler: type, owner: OpenAIServer) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out or hang up are expected here; stay quiet about them."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API; streams use chunking
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self, alive=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read `requests` instead of stderr noise."""

    def drop(self) -> None:
        """Cut the connection now (also wakes a handler blocked reading a keep-alive)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    # routing -----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner._record(RecordedRequest(self.command, self.path, headers, body))
        route = re.sub(r"^/v1(?=/)", "", self.path.split("?", 1)[0]).rstrip("/")

        if owner.api_key and headers.get("authorization") != f"Bearer {owner.api_key}":
            self._send_json(401, error_body(401))
        elif self.command == "GET" and route == "/models":
            self._send_json(200, {"object": "list", "data": [self._model_card(owner.model)]})
        elif self.command == "GET" and route.startswith("/models/"):
            self._send_json(200, self._model_card(route.removeprefix("/models/")))
        elif self.command == "POST" and route == "/chat/completions":
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                self._send_json(400, error_body(400, "'messages' is a required property"))
            else:
                self._chat(body)
        else:
            self._send_json(404, error_body(404, f"Unknown request URL: {self.path}"))

    def _model_card(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 0, "owned_by": "corpus-qa-tests"}

    def _chat(self, body: dict[str, Any]) -> None:
        owner = self.server.owner
        step, text = owner._next_step(body)
        if step.delay and owner._stopping.wait(step.delay):
            self.drop()
            return
        if step.status != 200:
            headers = {}
            if step.retry_after is not None:
                headers = {
                    "retry-after": f"{step.retry_after:g}",
                    "retry-after-ms": f"{step.retry_after * 1000:g}",
                }
            self._send_json(step.status, error_body(step.status, step.message), headers)
            return
        if step.disconnect and not (body.get("stream") and step.after_chunks):
            self.drop()
            return
        meta = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "created": int(time.time()),
            "model": str(body.get("model") or owner.model),
            "system_fingerprint": "fp_corpus_qa_tests",
        }
        prompt = sum(count_tokens(_message_text(m)) for m in body["messages"])
        completion = count_tokens(text)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if body.get("stream"):
            self._stream(body, step, text, meta, usage)
            return
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
        payload = {**meta, "object": "chat.completion", "choices": [choice], "usage": usage}
        self._send_json(200, payload)

    # wire formats ------------------------------------------------------------------------
    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(
        self, body: dict[str, Any], step: _Step, text: str, meta: dict[str, Any], usage: Any
    ) -> None:
        """SSE of chat.completion.chunk objects: role, one chunk per word, stop, [DONE]."""
        owner = self.server.owner
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        pause = owner.chunk_delay if step.chunk_delay is None else step.chunk_delay
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            extra = {"usage": None} if include_usage else {}
            return {**meta, "object": "chat.completion.chunk", "choices": [choice], **extra}

        self._event(chunk({"role": "assistant", "content": ""}))
        for i, piece in enumerate(split_tokens(text)):
            if step.disconnect and i >= step.after_chunks:
                self.drop()
                return
            if pause and owner._stopping.wait(pause):
                self.drop()
                return
            self._event(chunk({"content": piece}))
        self._event(chunk({}, "stop"))
        if include_usage:
            self._event({**meta, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")  # end of the chunked body

    def _event(self, payload: dict[str, Any]) -> None:
        self._write_chunk(f"data: {json.dumps(payload)}\n\n".encode())

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


@pytest.fixture(name="openai_server")
def openai_server_fixture() -> Iterator[OpenAIServer]:
    """Fixture `openai_server`: a running OpenAIServer, stopped after the test.

    Named apart from the fixture so importing it (conftest or a test module) does not
    trip ruff's F811 on every test parameter called `openai_server`.
    """
    with OpenAIServer() as srv:
        yield srv
    # a fallback path can swallow the 500 a broken responder causes; fail loudly instead
    assert not srv.errors, f"the responder raised: {srv.errors!r}"
