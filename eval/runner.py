"""Run a gold set through an Engine: one scored row per question, and the aggregate metrics.

Uses only the public `qa` API, duck-typed: `engine.ask(question, top_k=)` -> Answer,
`engine.document_text(path)` for checking citations, and `engine.settings` (optional)
for the LLM judge. The engine is built, fed and closed by the caller (`qa eval`).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from eval.formats import GoldItem, make_item
from eval.judge import llm_judge
from eval.metrics import citation_valid, dedupe, failure_kind, score_row, summarize

if TYPE_CHECKING:
    from qa import Answer, Engine

ERROR = "error"
Progress = Callable[[int, int], None]


@dataclass
class EvalResult:
    """What one run measured: the metrics, one row per question, and how it was run."""

    metrics: dict[str, Any]
    rows: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)


def _as_item(row: GoldItem | Mapping[str, Any], number: int) -> GoldItem:
    return row if isinstance(row, GoldItem) else make_item(row, f"gold row {number}")


def _document_text(engine: Engine, path: str) -> str | None:
    """The engine's text of a cited document; None (its citations invalid) when it fails."""
    try:
        return engine.document_text(path)
    except Exception:
        return None


def _citation_rows(engine: Engine, answer: Answer) -> list[dict[str, Any]]:
    """The answer's citations as dicts, each with `valid`: its quote is the cited span."""
    rows = []
    for c in answer.citations:
        text = _document_text(engine, c.path)
        valid = text is not None and citation_valid(c.quote, text, c.start, c.end)
        rows.append(asdict(c) | {"valid": valid})
    return rows


def _error_row(row: dict[str, Any], exc: Exception, started: float) -> dict[str, Any]:
    """The row of a question whose ask raised: it counts, with the error's first line."""
    message = str(exc).splitlines()[0] if str(exc) else ""
    return row | {
        "answer": "",
        "answered": False,
        "mode": None,
        "retrieved": [],
        "citations": [],
        "short": None,
        "refusal_reason": None,
        "error": f"{type(exc).__name__}: {message}",
        "latency_ms": (time.perf_counter() - started) * 1000,
    }


def _ask(engine: Engine, item: GoldItem, top_k: int | None) -> dict[str, Any]:
    """One question -> its row (without scores); an engine exception becomes an error row."""
    row: dict[str, Any] = item.to_dict()
    started = time.perf_counter()
    try:
        answer = engine.ask(item.question, top_k=top_k)
    except Exception as exc:  # a broken question must not hide the other results
        return _error_row(row, exc, started)
    wall_ms = (time.perf_counter() - started) * 1000
    short = getattr(answer, "short", None)
    return row | {
        "answer": answer.text,
        "answered": bool(answer.answered),
        "mode": answer.mode,
        "retrieved": dedupe(p.source for p in answer.retrieved),
        "citations": _citation_rows(engine, answer),
        "short": asdict(short) if short else None,
        "refusal_reason": getattr(answer, "refusal_reason", None),
        "error": None,
        "notice": getattr(answer, "notice", None),  # why an LLM answer fell back, what was left out
        "latency_ms": round(float(answer.timings_ms.get("total", wall_ms)), 1),
    }


def _score(row: dict[str, Any]) -> dict[str, Any]:
    scores = score_row(row)
    if row["error"]:  # an error is never a correct refusal
        scores["refused_correctly"] = False if scores["refused_correctly"] is not None else None
    return row | {"scores": scores, "failure": ERROR if row["error"] else failure_kind(row, scores)}


def run_eval(
    engine: Engine,
    gold_rows: Sequence[GoldItem | Mapping[str, Any]],
    *,
    top_k: int | None = None,
    progress: Progress | None = None,
    judge: bool | None = None,
) -> EvalResult:
    """Ask every gold question, score it, and aggregate.

    `progress(done, total)` is called after each question. `judge`: None runs the LLM
    judge when the engine's settings configure an OpenAI-compatible endpoint, False never.
    """
    items = [_as_item(row, n) for n, row in enumerate(gold_rows, start=1)]
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for done, item in enumerate(items, start=1):
        rows.append(_score(_ask(engine, item, top_k)))
        if progress:
            progress(done, len(items))
    metrics = summarize(rows) | {"n_errors": sum(r["error"] is not None for r in rows)}
    settings = getattr(engine, "settings", None)
    modes = sorted({r["mode"] for r in rows if r["mode"]})
    info: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 2),
        "top_k": top_k if top_k is not None else getattr(settings, "top_k", None),
        "mode": ", ".join(modes) or None,
        "python": platform.python_version(),
        "notes": [],
    }
    if judge is not False:
        scores, notes = llm_judge(rows, settings)
        metrics |= scores
        info["notes"] += notes
    return EvalResult(metrics=metrics, rows=rows, info=info)
