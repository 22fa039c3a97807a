"""The data that crosses the API boundary: plain, typed, JSON-ready."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["extractive", "llm"]

# One turn of a conversation: {"role": "user" | "assistant", "content": str}. Plain dicts,
# as chat UIs and OpenAI-style clients already hold them.
Turn = dict[str, str]
# The conversation before a question, oldest turn first (Engine.ask/stream, the answerers,
# the prompts, the offline follow-up resolver and the UI's session all take this one type).
History = Sequence[Turn]


@dataclass(frozen=True)
class Citation:
    """A checkable claim: `quote == document_text[start:end]` of the file at `path`."""

    n: int
    source: str
    path: str
    quote: str
    start: int
    end: int
    page: int | None
    score: float


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk and how each retriever ranked it (1-based; None = not found)."""

    chunk_id: str
    source: str
    path: str
    text: str
    start: int
    end: int
    page: int | None
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None
    dense_score: float | None = None
    bm25_score: float | None = None


@dataclass
class Answer:
    """An answer whose `text` carries `[n]` markers that index into `citations`.

    `answered` is False for a refusal ("not in the documents"); `search_query` is the
    standalone question actually searched (differs from `question` for follow-ups).
    `short` is the answer phrase itself for a question that asks for one thing, cited
    inside sentence citation `short.n`; `refusal_reason` says why a refusal was made.
    """

    question: str
    text: str
    answered: bool
    citations: list[Citation] = field(default_factory=list)
    mode: Mode = "extractive"
    timings_ms: dict[str, float] = field(default_factory=dict)
    retrieved: list[Passage] = field(default_factory=list)
    search_query: str = ""
    notice: str | None = None
    short: Citation | None = None
    refusal_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The `qa ask --json` object of DESIGN.md (plus search_query, notice, refusal_reason)."""
        return {
            "question": self.question,
            "answer": self.text,
            "answered": self.answered,
            "citations": [asdict(c) for c in self.citations],
            "mode": self.mode,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "search_query": self.search_query,
            "notice": self.notice,
            "short": asdict(self.short) if self.short else None,
            "refusal_reason": self.refusal_reason,
        }


REFUSAL_TEXT = "I could not find this in the documents."

StreamEvent = str | Answer  # text deltas as the answer forms, then the final Answer
