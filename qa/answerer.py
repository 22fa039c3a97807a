"""What an answerer is, and the few parts every answerer is given.

An answerer turns a checked question (and the conversation before it) into text deltas
and then exactly one final Answer, last. It is given only what it needs, as plain
callables the Engine wires up (errors already translated into qa.errors):

- `Retrieve`: (query, top_k) -> passages, best first (hybrid dense + BM25);
- `Texts`: a fresh `DocumentTexts` (the loader's text of each document) per question;
- `Embed`: texts -> normalised vectors with the engine's query encoder.

Engine picks one answerer when it is made (qa.engine.Engine._answerer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Protocol

from qa.texts import DocumentTexts
from qa.types import History, Passage, StreamEvent

Retrieve = Callable[[str, int], list[Passage]]
Texts = Callable[[], DocumentTexts]
Embed = Callable[[list[str]], list[list[float]]]

_WORD = re.compile(r"\S+\s*")


class Answerer(Protocol):
    """stream(question, history, top_k): str deltas, then the final Answer."""

    def stream(self, question: str, history: History, top_k: int) -> Iterator[StreamEvent]: ...


def words(text: str) -> Iterator[str]:
    """A finished text as stream deltas, one word (with its trailing space) at a time."""
    for m in _WORD.finditer(text):
        yield m.group()
