"""Reports of a run: the `--json` document, a baseline read back, and the markdown table.

The markdown shows each metric with its change against a baseline (marked ✗ when worse),
the failing questions grouped by kind, and the questions that flipped since the baseline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.judge import JUDGE_METRICS
from eval.metrics import (
    CLAIM_METRIC_NAMES,
    COUNT_NAMES,
    FAILURE_KINDS,
    LOWER_IS_BETTER,
    METRIC_NAMES,
    SHORT_METRICS,
)
from eval.runner import ERROR, EvalResult


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
