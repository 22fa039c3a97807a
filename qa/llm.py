"""The OpenAI-compatible answerer: fluent answers in which only checked claims are shown.

One question (LLMAnswerer.stream; the Engine's answerer when QA_LLM=openai):

1. a follow-up (any question asked with history) is condensed into a standalone question
   by the model, or by the offline heuristic `qa.questions.condense` when that fails or the
   model's rewrite echoes the prompt or shares no word with what was asked;
2. passages are retrieved for it. When the extractive answerer's evidence checks refuse
   (the passages lack the kind of thing asked for), that refusal is the answer and the
   model is not asked (EVIDENCE_GATE). Else the prompt is fitted to the context (qa.prompt);
3. the reply is read claim by claim as it streams; the guard (qa.guard) shows a claim
   only when one retrieved sentence supports it (qa.support), cited by us as an exact
   span whatever markers the model wrote; echoes of the prompt, refusals, restatements
   and unsupported claims are never shown. Generation is bounded by stop sequences,
   QA_LLM_MAX_TOKENS, and the guard, which stops reading after three shown claims;
4. the final Answer, mode "llm": the shown claims (answered), or a refusal when the model
   said in its own words that the passages do not hold the answer. When no claim passed,
   when the shown claims lack the kind of thing asked (a number, a date, a name), or when
   none of them cites a sentence the extractive answerer chose (the model words the answer;
   the evidence ranking picks what it rests on), the extractive answer with a notice.

Failure: timeouts, refused connections, 401, 429 and 5xx get a one-line message and
bounded retries (qa.endpoint), then the extractive answer with a visible notice, mode
"extractive". When the condensing request already failed, the answer request is not tried:
the user waits once, not twice.

Stream contract (UI, CLI): str deltas, then exactly one Answer, last. Normally the deltas
join to answer.text (each delta one checked claim). The final Answer is authoritative: a
refusal's text is REFUSAL_TEXT, and after a stream cut midway the deltas are the claims
shown so far, a blank line, then the extractive answer's text.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from qa import prompt as prompts
from qa import support
from qa.answerer import Embed, Retrieve, Texts, words
from qa.citing import Citer, strip_thinking
from qa.endpoint import Endpoint
from qa.errors import LLMError
from qa.extractive import ExtractiveAnswerer
from qa.guard import ClaimReader, Guard, is_echo
from qa.questions import condense
from qa.settings import Settings
from qa.texts import DocumentTexts
from qa.types import REFUSAL_TEXT, Answer, Citation, History, Passage, StreamEvent

log = logging.getLogger(__name__)

# Ask the model only when the extractive answerer's evidence checks find, in the passages,
# the kind of thing the question asks for (a number, a date, a name, its head noun, its
# key terms). Refusal is then at least as accurate as offline mode, whatever the model.
EVIDENCE_GATE = True


@dataclass(frozen=True)
class LLMOptions:
    """The model's token budget, the guard's support threshold, the question length limit."""

    context_tokens: int
    max_tokens: int
    support_threshold: float
    max_question_chars: int

    @classmethod
    def of(cls, s: Settings) -> LLMOptions:
        return cls(
            s.llm_context_tokens, s.llm_max_tokens, s.llm_support_threshold, s.max_question_chars
        )


class LLMAnswerer:
    """Answers worded by an OpenAI-compatible model, showing only claims the documents support.

    `endpoint` makes one Endpoint per question (it counts that question's requests)."""

    def __init__(
        self,
        retrieve: Retrieve,
        texts: Texts,
        embed: Embed,
        endpoint: Callable[[], Endpoint],
        options: LLMOptions,
    ) -> None:
        # the extractive answer from the same passages: the evidence check and the fallback
        self.extractive = ExtractiveAnswerer(retrieve, texts, embed)
        self.retrieve, self.texts, self.embed = retrieve, texts, embed
        self.endpoint, self.options = endpoint, options

    def stream(self, question: str, history: History, top_k: int) -> Iterator[StreamEvent]:
        """Text deltas, then the final Answer (mode "llm", or "extractive" after a failure)."""
        run = _Run(self, question, time.perf_counter(), self.endpoint(), self.texts())
        yield from _stream(run, history, top_k)


@dataclass
class _Run:
    answerer: LLMAnswerer
    question: str
    started: float
    endpoint: Endpoint
    texts: DocumentTexts  # read once per question, by the citer and the reference alike
    timings: dict[str, float] = field(default_factory=dict)
    search: str = ""
    passages: list[Passage] = field(default_factory=list)
    extracted: Answer | None = None  # the extractive answer, once computed

    def mark(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[name] = (now - since) * 1000
        return now


class _Fallback(Exception):
    """Answer extractively: the model failed, or (unchecked) said nothing the guard could show."""

    def __init__(self, error: LLMError, streamed: bool, *, unchecked: bool = False) -> None:
        super().__init__(str(error))
        self.error, self.streamed, self.unchecked = error, streamed, unchecked


def condense_with_model(
    endpoint: Endpoint, question: str, history: History, options: LLMOptions
) -> str:
    """The follow-up as a standalone question, written by the model from the conversation."""
    budget = prompts.answer_budget(options.context_tokens, prompts.CONDENSE_MAX_TOKENS)
    messages = prompts.condense_messages(question, history, budget, prompts.token_counter())
    reply = endpoint.complete(messages, prompts.CONDENSE_MAX_TOKENS)
    reply = re.sub(r"(?s)^\s*<think>.*?</think>", "", reply)
    text = next((ln for ln in reply.splitlines() if ln.strip()), "")
    text = re.sub(r"^\s*(?:standalone question\s*:)?\s*", "", text, flags=re.IGNORECASE)
    text = " ".join(text.strip().strip("\"'“”").split())
    users = [m.get("content", "") for m in history if m.get("role") == "user"]
    asked = " ".join([question, *users])
    if is_echo(text) or not support.content(text) & support.content(asked):
        return condense(question, history)  # an echo, or about nothing that was asked
    fits = 0 < len(text) <= options.max_question_chars
    return text if fits else condense(question, history)


def _stream(run: _Run, history: History, top_k: int) -> Iterator[StreamEvent]:
    question = run.question
    failure: LLMError | None = None
    unchecked = False
    t = time.perf_counter()
    run.search = question
    if prompts.conversation(history):  # a follow-up: make it standalone before retrieval
        try:
            run.search = condense_with_model(run.endpoint, question, history, run.answerer.options)
        except LLMError as e:  # the endpoint is down: don't make the user wait for it twice
            failure, run.search = e, condense(question, history)
        t = run.mark("condense", t)
    run.passages = run.answerer.retrieve(run.search, top_k)
    t = run.mark("retrieve", t)
    if EVIDENCE_GATE and (reference := _reference(run)) and not reference.answered:
        # the passages lack what the question asks for: no model can answer from them
        run.mark("reference", t)
        reference.notice = "The passages do not hold what the question asks for."
        yield from _finish(run, reference)
        return
    if failure is None:
        try:
            yield from _generate(run, history)
            return
        except _Fallback as e:
            failure, unchecked = e.error, e.unchecked
            if e.streamed:
                yield "\n\n"
    yield from _fallback(run, failure, unchecked)


def _generate(run: _Run, history: History) -> Iterator[StreamEvent]:
    s = run.answerer.options
    if not run.passages:  # nothing to answer from: no need to ask the model
        yield REFUSAL_TEXT
        yield _answer(run, REFUSAL_TEXT, False, [], None)
        return
    t, shown = time.perf_counter(), ""
    budget = prompts.answer_budget(s.context_tokens, s.max_tokens)
    try:
        prompt = prompts.build_prompt(
            run.search, run.passages, history, budget, prompts.token_counter()
        )
        log.debug("prompt: %d of %d tokens", prompt.tokens, prompt.budget)
        citer = _citer(run, prompt.passages)
        guard = Guard(citer, run.search, threshold=s.support_threshold)
        reply = ClaimReader(guard)
        deltas = run.endpoint.stream(prompt.messages)
        with contextlib.closing(deltas):  # leaving early ends the model's generation too
            for piece in reply.read(strip_thinking(deltas)):
                if not shown:
                    run.mark("first_token", run.started)
                piece = f" {piece}" if shown else piece
                shown += piece
                yield piece
    except LLMError as e:
        run.mark("llm", t)  # the time lost to the model before falling back
        raise _Fallback(e, bool(shown)) from e
    log.info("answered by %s in %d request(s)", run.endpoint.url, run.endpoint.requests)
    run.timings["llm"] = (time.perf_counter() - t - reply.seconds) * 1000
    run.timings["check"] = reply.seconds * 1000
    yield _final(run, shown, reply, citer)


def _citer(run: _Run, passages: list[Passage]) -> Citer:
    return Citer(passages, run.search, run.texts, run.answerer.embed)


def _final(run: _Run, shown: str, reply: ClaimReader, citer: Citer) -> Answer:
    guard = reply.guard
    if not reply.text.strip() and run.endpoint.finish_reason == "stop":
        why = "its reply was empty (it ended at once, or began to repeat the prompt)"
        raise _Fallback(LLMError(why), False, unchecked=True)
    if not reply.text.strip():
        raise _Fallback(LLMError(f"the model server at {run.endpoint.url} sent no text"), False)
    counts = guard.counts
    if counts["supported"] and not support.says_what_is_asked(run.search, shown):
        why = "its supported sentences do not say what the question asks for"
        raise _Fallback(LLMError(why), bool(shown), unchecked=True)
    if counts["supported"] and not _agrees(citer.citations, _reference(run)):
        why = "it rests on other sentences than the ones that best answer the question"
        raise _Fallback(LLMError(why), bool(shown), unchecked=True)
    if counts["supported"]:
        return _answer(run, shown, True, citer.citations, guard.notice())
    if counts["refusal"]:  # said in its own words, with nothing supported beside it
        return _answer(run, REFUSAL_TEXT, False, [], None)
    left = counts["unsupported"] + counts["echo"]
    why = (
        f"none of the {left} sentences of its reply is supported by the documents"
        if left
        else "its reply held no claim to check"
    )
    raise _Fallback(LLMError(why), False, unchecked=True)


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


def _agrees(cited: list[Citation], reference: Answer) -> bool:
    """The model cites a sentence the extractive answerer chose, or one holding the same
    short answer (a headline and the body sentence under it state one fact), or the
    extractive answerer refused: the model words the answer, the evidence ranking picks it."""
    if not reference.answered:
        return True
    overlaps = any(
        c.path == r.path and c.start < r.end and r.start < c.end
        for c in cited
        for r in reference.citations
    )
    if overlaps or reference.short is None:
        return overlaps
    short = " ".join(reference.short.quote.casefold().split())
    return any(short in " ".join(c.quote.casefold().split()) for c in cited)


def _reference(run: _Run) -> Answer:
    """The extractive answer from the same passages: the evidence check and the fallback."""
    if run.extracted is None:
        run.extracted = run.answerer.extractive.answer(
            run.question, run.passages, search_query=run.search, texts=run.texts
        )
    return run.extracted


def _fallback(run: _Run, error: LLMError, unchecked: bool = False) -> Iterator[StreamEvent]:
    log.info("answering extractively: %s", error)
    answer = _reference(run)
    if unchecked:
        answer.notice = (
            f"The model's answer was not used: {error}. This is the offline extractive answer."
        )
    else:
        answer.notice = (
            f"The language model failed: {error}. This is the offline extractive answer."
        )
    yield from _finish(run, answer)


def _finish(run: _Run, answer: Answer) -> Iterator[StreamEvent]:
    answer.timings_ms = run.timings | answer.timings_ms
    answer.timings_ms["total"] = (time.perf_counter() - run.started) * 1000
    yield from words(answer.text)
    yield answer
