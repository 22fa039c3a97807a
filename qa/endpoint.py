"""One OpenAI-compatible chat endpoint, called with our own bounded retries and backoff.

The openai client runs with max_retries=0 so every attempt is ours to count: timeouts,
refused or dropped connections, 408/409, 429 and 5xx are retried QA_LLM_RETRIES times,
waiting QA_LLM_BACKOFF seconds doubled each time (or what Retry-After asks, up to
MAX_WAIT_S), and never once text has streamed. Every failure becomes an LLMError whose
one-line message names what to check (OPENAI_BASE_URL, OPENAI_API_KEY, QA_LLM_MODEL).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from qa.errors import LLMError
from qa.settings import reveal

if TYPE_CHECKING:
    from qa.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"  # only when QA_LLM_MODEL is unset and the server lists none
MAX_WAIT_S = 10.0  # the longest pause between retries, whatever Retry-After asks for
# Generation ends where a model would start echoing the prompt (its delimiters, a new
# "Question:") or open a second turn; at most 4 (OpenAI's limit).
STOP = ("<<<", "\nQuestion:", "\nPassages", "<|im_end|>")


@lru_cache(maxsize=4)
def _client(base_url: str | None, api_key: str | None, timeout: float) -> Any:
    from openai import OpenAI

    return OpenAI(
        base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=0
    )


_LISTED: dict[str, str] = {}  # base URL -> the model it serves (successes only)
LIST_TIMEOUT_S = 5.0


def _listed_model(base_url: str, api_key: str | None, timeout: float) -> str:
    """The first model a local server lists (vLLM, Ollama, llama.cpp serve one or a few)."""
    if base_url not in _LISTED:
        try:
            client = _client(base_url, api_key, timeout).with_options(
                timeout=min(timeout, LIST_TIMEOUT_S)
            )
            _LISTED[base_url] = next(m.id for m in client.models.list())
        except Exception as e:  # the chat request will report the real problem
            log.debug("listing the models at %s failed: %s", base_url, e)
            return DEFAULT_MODEL
    return _LISTED[base_url]


class Endpoint:
    """One OpenAI-compatible chat endpoint, called with our own bounded retries and backoff."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.openai_base_url or "https://api.openai.com/v1"
        self.requests = 0  # chat requests sent, retries included
        self.finish_reason: str | None = None

    @property
    def client(self) -> Any:
        s = self.settings
        return _client(s.openai_base_url, reveal(s.openai_api_key), s.llm_timeout)

    @property
    def model(self) -> str:
        s = self.settings
        if s.llm_model:
            return s.llm_model
        if s.openai_base_url:
            return _listed_model(s.openai_base_url, reveal(s.openai_api_key), s.llm_timeout)
        return DEFAULT_MODEL

    def _create(self, messages: list[dict[str, str]], max_tokens: int, stream: bool) -> Any:
        self.requests += 1
        return self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            max_tokens=max_tokens,
            temperature=self.settings.llm_temperature,
            stream=stream,
            stop=list(STOP),
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

    def stream(self, messages: list[dict[str, str]]) -> Generator[str, None, None]:
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
            raise LLMError(self.redact(self.describe(e, attempt))) from e
        wait = min(MAX_WAIT_S, self.settings.llm_backoff * 2 ** (attempt - 1))
        wait = max(wait, min(MAX_WAIT_S, _retry_after(e) or 0.0))
        log.info("model request %d failed (%s); retrying in %.2fs", attempt, self.redact(e), wait)
        time.sleep(wait)

    def redact(self, message: object) -> str:
        """A server may echo the API key in an error: never pass it on to a user or a log."""
        key = reveal(self.settings.openai_api_key)
        return str(message).replace(key, "***") if key else str(message)

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
