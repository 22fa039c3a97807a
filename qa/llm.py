"""The OpenAI-compatible answerer: fluent answers whose citations stay checkable.

One question (Engine.stream calls `stream_answer` when QA_LLM=openai):

1. a follow-up (any question asked with history) is condensed into a standalone question
   by the model, or by the offline heuristic `qa.engine.condense` when that fails;
2. passages are retrieved for it, and the prompt is fitted to the context (qa.prompt);
3. the reply streams as text deltas whose `[n]` markers are rewritten on the fly into
   exact, numbered citations (qa.citing), so the streamed text is the final text;
4. the final Answer, mode "llm"; a "cannot find" reply is answered=False.

Failure: timeouts, refused connections, 401, 429 and 5xx get a one-line message (LLMError),
bounded retries with exponential backoff (honouring Retry-After, while nothing has streamed
yet), and then the extractive answer with a visible notice, mode "extractive". When the
condensing request already failed, the answer request is not tried: one wait, not two.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from qa import prompt as prompts
from qa.citing import Citer, MarkerRewriter, is_refusal, strip_thinking
from qa.errors import LLMError
from qa.types import REFUSAL_TEXT, Answer, Citation, Passage

if TYPE_CHECKING:
    from qa.engine import Engine, History
    from qa.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"  # only when QA_LLM_MODEL is unset and the server lists none
MAX_WAIT_S = 10.0  # the longest pause between retries, whatever Retry-After asks for


# ---- the endpoint: client, bounded retries, error messages ----------------------------------
@lru_cache(maxsize=4)
def _client(base_url: str | None, api_key: str | None, timeout: float) -> Any:
    from openai import OpenAI

    return OpenAI(
        base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=0
    )


@lru_cache(maxsize=8)
def _listed_model(base_url: str, api_key: str | None, timeout: float) -> str:
    """The first model a local server lists (vLLM, Ollama, llama.cpp serve one or a few)."""
    try:
        models = _client(base_url, api_key, timeout).models.list()
        return next((m.id for m in models), DEFAULT_MODEL)
    except Exception as e:  # the chat request will report the real problem
        log.debug("listing models at %s failed: %s", base_url, e)
        return DEFAULT_MODEL


class Endpoint:
    """One OpenAI-compatible chat endpoint, called with our own bounded retries and backoff."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.openai_base_url or "https://api.openai.com/v1"
        self.requests = 0  # chat requests sent (attempts), for logs and tests
        self.finish_reason: str | None = None

    @property
    def client(self) -> Any:
        s = self.settings
        return _client(s.openai_base_url, s.openai_api_key, s.llm_timeout)

    @property
    def model(self) -> str:
        s = self.settings
        if s.llm_model:
            return s.llm_model
        if s.openai_base_url:
            return _listed_model(s.openai_base_url, s.openai_api_key, s.llm_timeout)
        return DEFAULT_MODEL

    def _create(self, messages: list[dict[str, str]], max_tokens: int, stream: bool) -> Any:
        self.requests += 1
        return self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            max_tokens=max_tokens,
            temperature=self.settings.llm_temperature,
            stream=stream,
        )

    def complete(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        """The whole reply of a short, non-streamed request."""
        for attempt in range(1, self.settings.llm_retries + 2):
            try:
                reply = self._create(messages, max_tokens, stream=False)
                return str(reply.choices[0].message.content or "") if reply.choices else ""
            except Exception as e:
                self._retry_or_raise(e, attempt, streamed=False)
        raise AssertionError("unreachable")

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Text deltas of the reply. Retries only while nothing has been yielded."""
        for attempt in range(1, self.settings.llm_retries + 2):
            streamed = False
            try:
                with self._create(messages, self.settings.llm_max_tokens, stream=True) as chunks:
                    for chunk in chunks:
                        if not chunk.choices:
                            continue
                        choice = chunk.choices[0]
                        self.finish_reason = choice.finish_reason or self.finish_reason
                        text = choice.delta.content if choice.delta else None
                        if text:
                            streamed = True
                            yield text
                return
            except Exception as e:
                self._retry_or_raise(e, attempt, streamed=streamed)

    def _retry_or_raise(self, e: Exception, attempt: int, *, streamed: bool) -> None:
        import openai

        if not isinstance(e, openai.OpenAIError):
            raise e
        last = attempt > self.settings.llm_retries
        if streamed or last or not _retryable(e):
            raise LLMError(self.describe(e, attempt)) from e
        wait = min(MAX_WAIT_S, self.settings.llm_backoff * 2 ** (attempt - 1))
        wait = max(wait, min(MAX_WAIT_S, _retry_after(e) or 0.0))
        log.info("model request %d failed (%s); retrying in %.2fs", attempt, e, wait)
        time.sleep(wait)

    def describe(self, e: Exception, attempts: int) -> str:
        """A one-line message fit to show a user, naming the setting to check."""
        import openai

        where = f"the model server at {self.url}"
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        if isinstance(e, openai.APITimeoutError):
            return f"{where} did not answer within {self.settings.llm_timeout:g}s{tries}"
        if isinstance(e, openai.APIConnectionError):
            cause = e.__cause__ or e.__context__
            why = f": {_first_line(str(cause))}" if cause else ""
            return f"cannot connect to {where}{why}{tries}"
        if isinstance(e, openai.AuthenticationError):
            key = "is not set" if not self.settings.openai_api_key else "was rejected"
            return f"{where} refused the request (HTTP 401): the API key (OPENAI_API_KEY) {key}"
        if isinstance(e, openai.PermissionDeniedError):
            return f"{where} denied access (HTTP 403): check OPENAI_API_KEY and its permissions"
        if isinstance(e, openai.NotFoundError):
            return f"{where} has no model {self.model!r} (HTTP 404): check QA_LLM_MODEL"
        if isinstance(e, openai.RateLimitError):
            if _error_code(e) == "insufficient_quota":
                return f"{where} says the account is out of quota (HTTP 429)"
            return f"{where} is rate limiting requests (HTTP 429){tries}"
        if isinstance(e, openai.APIStatusError):
            if e.status_code >= 500:
                return f"{where} failed with HTTP {e.status_code}{tries}"
            return f"{where} rejected the request (HTTP {e.status_code}: {_first_line(e.message)})"
        return f"{where} failed: {_first_line(str(e))}{tries}"


def _retryable(e: Exception) -> bool:
    import openai

    if isinstance(e, openai.APIConnectionError):  # includes timeouts and dropped streams
        return True
    if isinstance(e, openai.RateLimitError):
        return _error_code(e) != "insufficient_quota"
    return isinstance(e, openai.APIStatusError) and (
        e.status_code >= 500 or e.status_code in (408, 409)
    )


def _retry_after(e: Exception) -> float | None:
    response = getattr(e, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return float(headers[name]) * scale
        except (KeyError, TypeError, ValueError):
            continue
    return None


def _error_code(e: Exception) -> str | None:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        return inner.get("code") if isinstance(inner, dict) else None
    return None


def _first_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# ---- one question ----------------------------------------------------------------------------
@dataclass
class _Run:
    engine: Engine
    question: str
    started: float
    endpoint: Endpoint
    timings: dict[str, float] = field(default_factory=dict)
    search: str = ""
    passages: list[Passage] = field(default_factory=list)

    def mark(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[name] = (now - since) * 1000
        return now


class _Fallback(Exception):
    def __init__(self, error: LLMError, streamed: bool) -> None:
        super().__init__(str(error))
        self.error, self.streamed = error, streamed


def condense_with_model(endpoint: Endpoint, question: str, history: History) -> str:
    """The follow-up as a standalone question, written by the model from the conversation."""
    from qa.engine import condense

    s = endpoint.settings
    budget = prompts.answer_budget(s.llm_context_tokens, prompts.CONDENSE_MAX_TOKENS)
    messages = prompts.condense_messages(question, history, budget, prompts.token_counter())
    reply = endpoint.complete(messages, prompts.CONDENSE_MAX_TOKENS)
    reply = re.sub(r"(?s)^\s*<think>.*?</think>", "", reply)
    text = next((ln for ln in reply.splitlines() if ln.strip()), "")
    text = re.sub(r"^\s*(?:standalone question\s*:)?\s*", "", text, flags=re.IGNORECASE)
    text = " ".join(text.strip().strip("\"'“”").split())
    return text if 0 < len(text) <= s.max_question_chars else condense(question, history)


def stream_answer(
    engine: Engine, question: str, history: History, top_k: int, *, started: float
) -> Iterator[str | Answer]:
    """Text deltas, then the final Answer (mode "llm", or "extractive" after a failure)."""
    from qa.engine import condense

    run = _Run(engine, question, started, Endpoint(engine.settings))
    failure: LLMError | None = None
    t = time.perf_counter()
    run.search = question
    if prompts.conversation(history):  # a follow-up: make it standalone before retrieval
        try:
            run.search = condense_with_model(run.endpoint, question, history)
        except LLMError as e:  # the endpoint is down: don't make the user wait for it twice
            failure, run.search = e, condense(question, history)
        t = run.mark("condense", t)
    run.passages = engine.retrieve(run.search, top_k)
    run.mark("retrieve", t)
    if failure is None:
        try:
            yield from _generate(run, history)
            return
        except _Fallback as e:
            failure = e.error
            if e.streamed:
                yield "\n\n"
    yield from _fallback(run, failure)


def _generate(run: _Run, history: History) -> Iterator[str | Answer]:
    s = run.engine.settings
    if not run.passages:  # nothing to answer from: no need to ask the model
        yield REFUSAL_TEXT
        yield _answer(run, REFUSAL_TEXT, False, [], None)
        return
    t, streamed = time.perf_counter(), False
    budget = prompts.answer_budget(s.llm_context_tokens, s.llm_max_tokens)
    try:
        prompt = prompts.build_prompt(
            run.search, run.passages, history, budget, prompts.token_counter()
        )
        log.debug("prompt: %d of %d tokens", prompt.tokens, prompt.budget)
        citer = _citer(run, prompt.passages)
        rewriter = MarkerRewriter(citer.resolve)
        for delta in strip_thinking(run.endpoint.stream(prompt.messages)):
            if piece := rewriter.feed(delta):
                if not streamed:
                    run.mark("first_token", run.started)
                streamed = True
                yield piece
        if tail := rewriter.close():
            yield tail
    except LLMError as e:
        raise _Fallback(e, streamed) from e
    run.timings["llm"] = (time.perf_counter() - t - citer.seconds) * 1000
    run.timings["cite"] = citer.seconds * 1000
    yield _final(run, rewriter.text.strip(), citer)


def _citer(run: _Run, passages: list[Passage]) -> Citer:
    from index import embed_texts

    engine, batch = run.engine, run.engine.settings.embed_batch_size
    return Citer(
        passages,
        run.search,
        document=engine.store.document_text,
        embed=lambda texts: embed_texts(texts, batch),
    )


def _final(run: _Run, text: str, citer: Citer) -> Answer:
    if not text:
        raise _Fallback(LLMError(f"the model server at {run.endpoint.url} sent no text"), False)
    if is_refusal(text, bool(citer.citations)):
        return _answer(run, REFUSAL_TEXT, False, [], None)
    notes = []
    if citer.dropped:
        markers = "marker" if citer.dropped == 1 else "markers"
        notes.append(f"Removed {citer.dropped} citation {markers} that named no passage.")
    if not citer.citations:
        notes.append(
            "The model cited no passage: this answer is not checked against the documents."
        )
    if run.endpoint.finish_reason == "length":
        limit = run.engine.settings.llm_max_tokens
        notes.append(f"The answer was cut at {limit} tokens (QA_LLM_MAX_TOKENS).")
    return _answer(run, text, True, citer.citations, " ".join(notes) or None)


def _answer(
    run: _Run, text: str, answered: bool, citations: list[Citation], notice: str | None
) -> Answer:
    run.timings["total"] = (time.perf_counter() - run.started) * 1000
    return Answer(
        question=run.question,
        text=text,
        answered=answered,
        citations=citations,
        mode="llm",
        timings_ms=run.timings,
        retrieved=run.passages,
        search_query=run.search,
        notice=notice,
    )


def _fallback(run: _Run, error: LLMError) -> Iterator[str | Answer]:
    log.info("the LLM failed, answering extractively: %s", error)
    answer = run.engine.extract(run.question, run.passages, search_query=run.search)
    answer.notice = f"The language model failed: {error}. This is the offline extractive answer."
    answer.timings_ms = run.timings | answer.timings_ms
    answer.timings_ms["total"] = (time.perf_counter() - run.started) * 1000
    for m in re.finditer(r"\S+\s*", answer.text):
        yield m.group()
    yield answer
