"""The chat's event handlers: streamed answers, per-session history, the `/ask` endpoint.

A session lives in a gr.State, which Gradio keeps per browser tab, so two people using
the app never see each other's conversation; the Engine itself is shared and stateless.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any, TypedDict

import gradio as gr

from qa import Answer, Engine, History, QAError
from ui import render

log = logging.getLogger(__name__)
KEEP_TURNS = 20  # source sections kept in the panel (older answers keep their text)
FRAME_S = 0.05  # at most one streamed update per 50 ms: every update crosses the network


class Session(TypedDict):
    """One browser tab's chat: what the chatbot shows, the conversation the engine reads
    (qa.History, the one history type), the rendered source sections, the answer count."""

    messages: list[dict[str, str]]
    history: History
    turns: list[str]
    count: int


def new_session() -> Session:
    return {"messages": [], "history": [], "turns": [], "count": 0}


class ChatHandlers:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def respond(self, question: str, session: Session | None) -> Iterator[tuple[Any, ...]]:
        """Yield (textbox, chatbot, sources panel, session) as the answer streams in."""
        s = session or new_session()
        q = (question or "").strip()
        if not q:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        messages = [*s["messages"], _msg("user", render.user_html(q))]
        yield "", [*messages, _msg("assistant", render.waiting_html())], gr.skip(), gr.skip()
        text, final, shown = "", None, 0.0
        try:
            for event in self.engine.stream(q, s["history"]):
                if isinstance(event, Answer):
                    final = event
                    continue
                text += event
                if time.monotonic() - shown >= FRAME_S:  # coalesce bursts of deltas
                    shown = time.monotonic()
                    reply = _msg("assistant", render.partial_html(text))
                    yield gr.skip(), [*messages, reply], gr.skip(), gr.skip()
        except Exception as e:  # QAErrors carry a user-facing message; anything else is a bug
            if not isinstance(e, QAError):
                log.exception("answering %r failed", q)
            why = str(e) if isinstance(e, QAError) else f"unexpected {type(e).__name__}: {e}"
            messages.append(_msg("assistant", render.error_html(why)))
            yield gr.skip(), messages, gr.skip(), {**s, "messages": messages}
            return
        if final is None:  # cannot happen with a well-behaved engine; never hang the UI
            return
        turn = s["count"]
        messages.append(_msg("assistant", render.answer_html(final, turn)))
        turns = [*s["turns"], self._turn(turn, final)][-KEEP_TURNS:]
        history = [
            *s["history"],
            {"role": "user", "content": q},
            {"role": "assistant", "content": final.text},
        ]
        new: Session = {"messages": messages, "history": history, "turns": turns, "count": turn + 1}
        yield gr.skip(), messages, render.panel_html(turns), new

    def _turn(self, turn: int, answer: Answer) -> str:
        """Render the sources section of an answer once; it is kept in the session."""
        texts = self.engine.document_texts()

        def text_of(path: str) -> str | None:
            try:
                return texts.text(path)
            except QAError:
                return None

        try:
            titles = {d.path: render.title_of(d) for d in self.engine.sources()}
        except QAError:
            titles = {}
        return render.turn_html(turn, answer, text_of, titles)

    def example(self, evt: gr.SelectData) -> str:
        """An example chip was clicked: put its question in the box, then ask it."""
        return str(evt.value.get("text", "")) if isinstance(evt.value, dict) else ""

    def clear(self) -> tuple[Any, ...]:
        """New chat: empty conversation, empty sources, fresh session."""
        return [], render.panel_html([]), new_session(), ""

    def ask_json(self, question: str) -> str:
        """The `/ask` API: the `qa ask --json` object, as a JSON string.

        A string, not a dict: gradio_client downloads any returned dict with a `path` key.
        """
        try:
            answer = self.engine.ask(question)
        except QAError as e:
            raise gr.Error(str(e)) from e
        return json.dumps(answer.to_dict(), ensure_ascii=False)

    def open_document(self, where: dict[str, Any]) -> str:
        """Server function for the sources panel: the whole document, span marked."""
        try:
            path = str(where["path"])
            start, end = int(where["start"]), int(where["end"])
            text = self.engine.document_text(path)
        except (KeyError, TypeError, ValueError):
            return render.error_html("Bad document request.")
        except QAError as e:
            return render.error_html(str(e))
        start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
        return render.document_html(path.rsplit("/", 1)[-1], text, start, max(start, end))


def _msg(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}
