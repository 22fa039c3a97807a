"""Quality gates: `--min METRIC=VALUE` / `--max METRIC=VALUE` parsed and checked on a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eval.judge import JUDGE_METRICS
from eval.metrics import CLAIM_METRIC_NAMES, COUNT_NAMES, METRIC_NAMES, SHORT_METRICS

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
