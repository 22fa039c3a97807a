"""The learned answer selector: two rankers, two calibrators, two thresholds; numpy only.

The weights are data (qa/selector.json), written by `python -m eval.train_selector`, which
also reports their cross-validated figures. A unit ranker scores sentences; a candidate
ranker scores answer phrases inside them (the unit's score is one of its features); both
are conditional logits (softmax over one question's choices). A calibrator turns the
winner's margin over the runner-up and its evidence (the question's terms, names and
relation words around it) into a probability that the documents answer the question, and
refusal compares it with a threshold chosen by cross-validation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

WEIGHTS = Path(__file__).with_name("selector.json")
VERSION = 1


@dataclass(frozen=True)
class LogisticModel:
    """Standardised features -> a linear score. `mean`/`scale` are the training set's."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def logits(self, rows: list[list[float]]) -> list[float]:
        import numpy as np

        if not rows:
            return []
        x = (np.asarray(rows, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return [float(v) for v in x @ np.asarray(self.weights) + self.bias]

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(s, 6) for s in self.scale],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogisticModel:
        n = len(d["names"])
        if not (len(d["weights"]) == len(d["mean"]) == len(d["scale"]) == n):
            raise ValueError("selector weights: feature lists differ in length")
        return cls(
            tuple(d["names"]),
            tuple(map(float, d["weights"])),
            float(d["bias"]),
            tuple(map(float, d["mean"])),
            tuple(map(float, d["scale"])),
        )


@dataclass(frozen=True)
class Selector:
    """Rankers, calibrators (typed / other questions) and the lowest probability answered."""

    unit: LogisticModel
    candidate: LogisticModel
    calibrate_typed: LogisticModel  # [winner's score, margin] -> logit of "right"
    calibrate_other: LogisticModel
    min_typed: float
    min_other: float
    info: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "unit": self.unit.to_dict(),
            "candidate": self.candidate.to_dict(),
            "calibrate_typed": self.calibrate_typed.to_dict(),
            "calibrate_other": self.calibrate_other.to_dict(),
            "min_typed": round(self.min_typed, 4),
            "min_other": round(self.min_other, 4),
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Selector:
        if d.get("version") != VERSION:
            raise ValueError(f"selector weights version {d.get('version')}, expected {VERSION}")
        return cls(
            LogisticModel.from_dict(d["unit"]),
            LogisticModel.from_dict(d["candidate"]),
            LogisticModel.from_dict(d["calibrate_typed"]),
            LogisticModel.from_dict(d["calibrate_other"]),
            float(d["min_typed"]),
            float(d["min_other"]),
            dict(d.get("info", {})),
        )


@lru_cache(maxsize=1)
def load_selector(path: str | None = None) -> Selector:
    """The shipped selector (read once per process), checked against today's features."""
    from qa.features import CALIBRATION_FEATURES, CANDIDATE_FEATURES, UNIT_FEATURES

    where = Path(path or WEIGHTS)
    sel = Selector.from_dict(json.loads(where.read_text(encoding="utf-8")))
    for model, names in (
        (sel.unit, UNIT_FEATURES),
        (sel.candidate, CANDIDATE_FEATURES),
        (sel.calibrate_typed, CALIBRATION_FEATURES),
        (sel.calibrate_other, CALIBRATION_FEATURES),
    ):
        if model.names != names:
            raise ValueError(
                f"{where} was trained on other features; run `python -m eval.train_selector`"
            )
    return sel
