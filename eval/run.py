"""Run a gold set through an Engine and report: metrics, per-question rows, gates.

Uses only the public `qa` API, duck-typed: `engine.ask(question, top_k=)` -> Answer,
`engine.document_text(path)` for checking citations, and `engine.settings` (optional)
for the LLM judge. The engine is built, fed and closed by the caller (`qa eval`).
"""

from __future__ import annotations

import json
import platform
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.formats import GoldItem, make_item
from eval.metrics import (
    CLAIM_METRIC_NAMES,
    COUNT_NAMES,
    FAILURE_KINDS,
    LOWER_IS_BETTER,
    METRIC_NAMES,
    SHORT_METRICS,
    citation_valid,
    dedupe,
    failure_kind,
    score_row,
    summarize,
)

if TYPE_CHECKING:
    from qa import Answer, Engine, Settings

JUDGE_METRICS: tuple[str, ...] = ("faithfulness", "answer_relevancy")
#: Used when QA_LLM=openai but QA_LLM_MODEL is unset.
DEFAULT_JUDGE_MODEL = "gpt-4o-mini"
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


class _DocumentTexts:
    """Caches engine.document_text per path; a failing lookup makes its citations invalid."""

    def __init__(self, engine: Engine) -> None:
        self._engine, self._texts = engine, {}

    def get(self, path: str) -> str | None:
        if path not in self._texts:
            try:
                self._texts[path] = self._engine.document_text(path)
            except Exception:
                self._texts[path] = None
        return self._texts[path]


def _citation_rows(answer: Answer, texts: _DocumentTexts) -> list[dict[str, Any]]:
    """The answer's citations as dicts, each with `valid`: its quote is the cited span."""
    rows = []
    for c in answer.citations:
        text = texts.get(c.path)
        valid = text is not None and citation_valid(c.quote, text, c.start, c.end)
        rows.append(asdict(c) | {"valid": valid})
    return rows


def _ask(engine: Engine, item: GoldItem, top_k: int | None, texts: _DocumentTexts) -> dict:
    """One question -> its row (without scores); an engine exception becomes an error row."""
    row: dict[str, Any] = item.to_dict()
    started = time.perf_counter()
    try:
        answer = engine.ask(item.question, top_k=top_k)
    except Exception as exc:  # a broken question must not hide the other results
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
    wall_ms = (time.perf_counter() - started) * 1000
    return row | {
        "answer": answer.text,
        "answered": bool(answer.answered),
        "mode": answer.mode,
        "retrieved": dedupe(p.source for p in answer.retrieved),
        "citations": _citation_rows(answer, texts),
        "short": asdict(answer.short) if getattr(answer, "short", None) else None,
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
    texts, rows, started = _DocumentTexts(engine), [], time.perf_counter()
    for done, item in enumerate(items, start=1):
        rows.append(_score(_ask(engine, item, top_k, texts)))
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


# --- optional LLM judge ----------------------------------------------------------------

_FAITHFULNESS = (
    "Rate from 1 to 5 how fully the numbered QUOTES support every claim in the ANSWER "
    "(5: every claim is stated in the quotes; 1: the claims are not in the quotes).\n"
    "QUOTES:\n{quotes}\n\nANSWER:\n{answer}\n\nReply with the digit only."
)
_RELEVANCY = (
    "Rate from 1 to 5 how directly the ANSWER addresses the QUESTION "
    "(5: answers exactly what was asked; 1: off the point).\n"
    "QUESTION:\n{question}\n\nANSWER:\n{answer}\n\nReply with the digit only."
)
_GRADE = re.compile(r"[1-5]")


def judge_unavailable(settings: Settings | None) -> str | None:
    """Why the LLM judge cannot run with these settings, or None when it can."""
    if settings is None or getattr(settings, "llm", None) != "openai":
        return "LLM-judged metrics skipped: QA_LLM is not 'openai'"
    if not (settings.openai_api_key or settings.openai_base_url):
        return "LLM-judged metrics skipped: neither OPENAI_API_KEY nor OPENAI_BASE_URL is set"
    return None


def _grade(client: Any, model: str, prompt: str) -> float | None:
    """One 1-5 grade normalised to 0..1; None when the reply holds no grade."""
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], temperature=0, max_tokens=5
    )
    match = _GRADE.search(reply.choices[0].message.content or "")
    return (int(match.group()) - 1) / 4 if match else None


def _judge_prompts(row: Mapping[str, Any]) -> dict[str, str]:
    quotes = "\n".join(f"[{c['n']}] {c['quote']}" for c in row["citations"]) or "(none)"
    return {
        "faithfulness": _FAITHFULNESS.format(quotes=quotes, answer=row["answer"]),
        "answer_relevancy": _RELEVANCY.format(question=row["question"], answer=row["answer"]),
    }


def llm_judge(
    rows: list[dict[str, Any]], settings: Settings | None, *, client: Any = None
) -> tuple[dict[str, float], list[str]]:
    """Mean LLM grades (0..1) of the answered rows, and notes for the report.

    Never raises: not configured -> no metrics and a note; the first endpoint failure
    stops the judge (no partial figures) with a note. Per-row grades go into row scores.
    """
    reason = None if client is not None else judge_unavailable(settings)
    if reason:
        return {}, [reason]
    model = getattr(settings, "llm_model", None) or DEFAULT_JUDGE_MODEL
    try:
        if client is None:
            from openai import OpenAI

            client = OpenAI(
                base_url=settings.openai_base_url,
                api_key=key.get_secret_value() if (key := settings.openai_api_key) else "unused",
                timeout=settings.llm_timeout,
                max_retries=1,
            )
        grades: dict[str, list[float]] = {name: [] for name in JUDGE_METRICS}
        for row in (r for r in rows if r["answered"]):
            for name, prompt in _judge_prompts(row).items():
                row["scores"][name] = grade = _grade(client, model, prompt)
                if grade is not None:
                    grades[name].append(grade)
    except Exception as exc:
        for row in rows:
            for name in JUDGE_METRICS:
                row["scores"].pop(name, None)
        return {}, [f"LLM-judged metrics skipped: the endpoint failed ({type(exc).__name__})"]
    metrics = {name: round(sum(g) / len(g), 4) for name, g in grades.items() if g}
    return metrics, [f"LLM-judged metrics graded by {model}"]


# --- gates -----------------------------------------------------------------------------

KNOWN_METRICS: tuple[str, ...] = (
    *METRIC_NAMES,
    *SHORT_METRICS,
    *CLAIM_METRIC_NAMES,
    *JUDGE_METRICS,
    *COUNT_NAMES,
    "n_errors",
    "follow_up_accuracy",
)


def _check_known(name: str) -> None:
    if name not in KNOWN_METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(KNOWN_METRICS)}")


def parse_gates(specs: Sequence[str]) -> dict[str, float]:
    """["hit@5=0.8", ...] -> {"hit@5": 0.8}; raises ValueError with a one-line message."""
    gates: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"bad gate {spec!r}: expected METRIC=VALUE, e.g. hit@5=0.8")
        _check_known(name)
        try:
            gates[name] = float(value)
        except ValueError:
            raise ValueError(f"bad gate {spec!r}: {value.strip()!r} is not a number") from None
    return gates


def check_gates(
    metrics: Mapping[str, Any],
    mins: Mapping[str, float] | None = None,
    maxs: Mapping[str, float] | None = None,
) -> list[str]:
    """One message per gate that failed; a metric that was not measured fails its gate."""
    failures = []
    for bound, gates in (("minimum", mins or {}), ("maximum", maxs or {})):
        for name, limit in gates.items():
            _check_known(name)
            value = metrics.get(name)
            if value is None:
                failures.append(f"{name} was not measured (gate {bound} {limit:g})")
            elif (value < limit) if bound == "minimum" else (value > limit):
                side = "below" if bound == "minimum" else "above"
                failures.append(f"{name} = {value:g} is {side} the {bound} {limit:g}")
    return failures


# --- reports ---------------------------------------------------------------------------


def to_dict(result: EvalResult) -> dict[str, Any]:
    return {"metrics": result.metrics, "info": result.info, "rows": result.rows}


def to_json(result: EvalResult) -> str:
    """The `qa eval --json` document: metrics, run info, per-question rows."""
    return json.dumps(to_dict(result), indent=2, ensure_ascii=False)


def load_baseline(path: str | Path) -> dict[str, Any]:
    """A previous `to_json` output, checked enough to compare against."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read baseline {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise ValueError(f"baseline {path} is not a `qa eval --json` file (no 'metrics')")
    return data


_COUNTS = (*COUNT_NAMES, "n_errors")
_UNSCALED = ("answer_chars_median", "latency_ms_p50", "latency_ms_p95")


def _fmt(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if name in _COUNTS or name in CLAIM_METRIC_NAMES:
        return f"{value:.0f}"
    return f"{value:.1f}" if name in _UNSCALED else f"{value:.3f}"


def _delta(name: str, value: Any, old: Any) -> str:
    """Signed change, marked ✗ when it is a change for the worse."""
    if value is None or old is None:
        return ""
    diff = value - old
    if abs(diff) < 5e-4:
        return "="
    judged = name not in _COUNTS and name != "answer_chars_median"
    worse = judged and (diff > 0) == (name in LOWER_IS_BETTER)
    whole = name in _UNSCALED or name in CLAIM_METRIC_NAMES
    text = f"{diff:+.1f}" if whole else f"{diff:+.3f}"
    return text + (" ✗" if worse else "")


def _metrics_table(metrics: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> list[str]:
    old = baseline.get("metrics", {}) if baseline else None
    names = [
        n
        for n in (*METRIC_NAMES, *SHORT_METRICS, *CLAIM_METRIC_NAMES, *JUDGE_METRICS)
        if n in metrics
    ]
    names += [n for n in ("follow_up_accuracy",) if n in metrics]
    names += [n for n in _COUNTS if n in metrics]
    header = ["| metric | value |" + (" baseline | Δ |" if old is not None else "")]
    header.append("|---|---:|" + ("---:|---:|" if old is not None else ""))
    lines = []
    for n in names:
        line = f"| {n} | {_fmt(n, metrics[n])} |"
        if old is not None:
            line += f" {_fmt(n, old.get(n))} | {_delta(n, metrics[n], old.get(n))} |"
        lines.append(line)
    return header + lines


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _failure_line(row: Mapping[str, Any]) -> str:
    refused = f"(refused: {row['refusal_reason']})" if row.get("refusal_reason") else "(refused)"
    said = row["error"] or (row["answer"] if row["answered"] else refused)
    line = f"- `{row['id']}` {_cell(row['question'], 120)} → {_cell(said)}"
    if row["sources"]:
        line += f" · gold: {', '.join(row['sources'])} · retrieved: {', '.join(row['retrieved'])}"
    return line


def _failures(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    failing = [r for r in rows if r["failure"]]
    lines = [f"## Failures ({len(failing)} of {len(rows)})"]
    for kind in (*FAILURE_KINDS, ERROR):
        group = [r for r in failing if r["failure"] == kind]
        if group:
            lines += ["", f"### {kind} ({len(group)})", *map(_failure_line, group)]
    return lines


def _flips(rows: Sequence[Mapping[str, Any]], baseline: Mapping[str, Any]) -> list[str]:
    before = {r["id"]: r.get("failure") for r in baseline.get("rows", [])}
    shared = [r for r in rows if r["id"] in before]
    fixed = [r for r in shared if before[r["id"]] and not r["failure"]]
    broken = [r for r in shared if not before[r["id"]] and r["failure"]]
    lines = ["## Changed since the baseline", f"Now failing: {len(broken)}"]
    lines += [f"- `{r['id']}` ({r['failure']}) {_cell(r['question'], 120)}" for r in broken]
    lines.append(f"\nNow passing: {len(fixed)}")
    lines += [f"- `{r['id']}` (was {before[r['id']]}) {_cell(r['question'], 120)}" for r in fixed]
    return lines


def to_markdown(result: EvalResult, baseline: Mapping[str, Any] | None = None) -> str:
    """The human report: metrics table (Δ vs baseline), failures by kind, flipped questions."""
    m, info = result.metrics, result.info
    lines = [
        "# corpus-qa eval",
        "",
        f"{m['n']} questions ({m['n_answerable']} answerable, {m['n_unanswerable']} "
        f"unanswerable) · mode {info.get('mode')} · top_k {info.get('top_k')} · "
        f"{info.get('started', '')}",
        "",
        *_metrics_table(m, baseline),
        "",
        *(f"> {note}" for note in info.get("notes", [])),
        "",
        *_failures(result.rows),
    ]
    if baseline is not None:
        lines += ["", *_flips(result.rows, baseline)]
    return "\n".join(lines) + "\n"
