"""Train the offline answer selector and report honest figures: `python -m eval.train_selector`.

Each labelled set is ingested (idempotently) into its own index, every question is
retrieved and turned into evidence by the engine itself, and then, in memory:
- k-fold cross-validation BY QUESTION: each fold's model and thresholds are fitted on the
  other folds and the held-out questions are answered by `qa.decide`, the function
  `qa ask` runs, so the CV figures are end-to-end for a fixed retrieval;
- leave-one-dataset-out: train without a set, answer that set;
- the training fit: the shipped model (all sets) answering each set.
The weights go to qa/selector.json; the table goes to stdout (and --report as JSON).
The labelled evidence itself comes from eval/selector_data.py.
Re-run it after any change to the loader, the units or the features.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import contains_answer, exact_match, f1
from eval.selector_data import (
    ROOT,
    Cache,
    Item,
    candidate_labels,
    collect,
    default_sets,
    items_of,
    trainable,
    unit_labels,
)
from qa import (
    CALIBRATION_FEATURES,
    CANDIDATE_FEATURES,
    SELECTOR_WEIGHTS,
    UNIT_FEATURES,
    LogisticModel,
    Selector,
    decide,
)
from qa import choose_answer as choose

L2 = 5.0
FOLDS = 5
SEED = 12
GRID = [round(x, 2) for x in np.arange(0.0, 0.81, 0.02)]
FALSE_REFUSAL_COST = 1.0  # a refused answerable question costs what a right refusal earns


# ---- models (numpy, L2, Newton) ----------------------------------------------------------
def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def fit_logistic(x: np.ndarray, y: np.ndarray, names: Sequence[str]) -> LogisticModel:
    """Plain L2 logistic regression (the calibrators)."""
    mean, scale = _standardise(x)
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], L2)
    reg[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -30, 30)))
        step = np.linalg.solve(
            (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg + 1e-9), z.T @ (p - y) + reg * w
        )
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return LogisticModel(
        tuple(names),
        tuple(map(float, w[:-1])),
        float(w[-1]),
        tuple(map(float, mean)),
        tuple(map(float, scale)),
    )


def _ranker_loss(w: np.ndarray, zs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Negative log-likelihood of the positives under each question's softmax, plus L2."""
    loss = 0.5 * L2 * float(w @ w)
    for z, t in zs:
        s = z @ w
        top = s.max()
        loss -= float(t @ (s - top - np.log(np.exp(s - top).sum())))
    return loss


def fit_ranker(groups: list[tuple[np.ndarray, np.ndarray]], names: Sequence[str]) -> LogisticModel:
    """Conditional logit: softmax over each question's choices, the positives as target.
    Newton steps are halved until the loss falls: a full step can overshoot and diverge."""
    groups = [(x, y) for x, y in groups if len(x) and y.sum() > 0]
    mean, scale = _standardise(np.vstack([x for x, _ in groups]))
    zs = [((x - mean) / scale, y / y.sum()) for x, y in groups]
    w = np.zeros(len(names))
    loss = _ranker_loss(w, zs)
    for _ in range(100):
        grad, hess = L2 * w, L2 * np.eye(len(w))
        for z, t in zs:
            s = z @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            grad += z.T @ (p - t)
            zp = z.T @ p
            hess += (z * p[:, None]).T @ z - np.outer(zp, zp)
        step = np.linalg.solve(hess, grad)
        while step.any() and _ranker_loss(w - step, zs) > loss:
            step = step / 2 if np.abs(step).max() > 1e-10 else step * 0
        w -= step
        loss = _ranker_loss(w, zs)
        if np.abs(step).max() < 1e-8:
            break
    return LogisticModel(
        tuple(names), tuple(map(float, w)), 0.0, tuple(map(float, mean)), tuple(map(float, scale))
    )


_N = len(CALIBRATION_FEATURES)
_NO_CALIBRATION = LogisticModel(
    CALIBRATION_FEATURES, (1.0,) + (0.0,) * (_N - 1), 0.0, (0.0,) * _N, (1.0,) * _N
)


def train(items: Sequence[Item]) -> Selector:
    """Unit ranker, candidate ranker (fed the unit score), calibrators, thresholds."""
    used = [it for it in items if trainable(it)]
    unit = fit_ranker(
        [(np.array(it.ev.unit_x), np.array(unit_labels(it))) for it in used if it.ev.units],
        UNIT_FEATURES,
    )
    groups = []
    for it in used:
        if it.ev.candidates:
            scores = unit.logits(it.ev.unit_x)
            rows = [
                [*x, scores[i]]
                for (i, _), x in zip(it.ev.candidates, it.ev.candidate_x, strict=True)
            ]
            groups.append((np.array(rows), np.array(candidate_labels(it))))
    candidate = fit_ranker(groups, CANDIDATE_FEATURES)
    raw = Selector(unit, candidate, _NO_CALIBRATION, _NO_CALIBRATION, 0.0, 0.0, {})
    calib = {}
    for typed in (True, False):
        x, y = [], []
        for it in used:
            if it.ev.profile.typed != typed:
                continue
            chosen = choose(it.ev, raw)
            if isinstance(chosen, str):
                continue
            x.append(chosen[2])
            # Refusal is for questions the documents cannot answer: a refused answerable
            # question counts as a false refusal even when the pick would have been wrong, so
            # the calibrator learns "answerable from this evidence", not "this pick is right".
            y.append(int(it.answerable))
        calib[typed] = (
            fit_logistic(np.array(x), np.array(y), CALIBRATION_FEATURES)
            if len(set(y)) == 2
            else _NO_CALIBRATION
        )
    sel = Selector(unit, candidate, calib[True], calib[False], 0.0, 0.0, {})
    return choose_thresholds(sel, items)


def choose_thresholds(sel: Selector, items: Sequence[Item]) -> Selector:
    """The refusal thresholds (typed / other questions) that score best on `items`."""
    best = {}
    free = replace(sel, min_typed=0.0, min_other=0.0)
    for typed in (True, False):
        group = [(it, decide(it.ev, free)) for it in items if it.ev.profile.typed == typed]
        scores = {t: sum(_utility(it, d, t) for it, d in group) for t in GRID}
        top = max(scores.values(), default=0)
        # the middle of the best plateau (the widest margin on both sides of the threshold),
        # unless refusing nothing is as good: then nothing is refused
        tied = [t for t, v in scores.items() if v >= top - 1e-9]
        best[typed] = 0.0 if not tied or tied[0] == 0.0 else tied[(len(tied) - 1) // 2]
    return replace(sel, min_typed=best[True], min_other=best[False])


def _utility(it: Item, d: Any, t: float) -> float:
    answered = d.answered and d.probability >= t
    if not it.answerable:
        return 0.0 if answered else 1.0
    if not answered:
        return -FALSE_REFUSAL_COST
    if not it.answers:
        return 0.0
    return (
        1.0 if contains_answer(" ".join(it.ev.units[i].text for i in d.units), it.answers) else 0.0
    )


# ---- scoring as `qa eval` does --------------------------------------------------------------
def score(items: Sequence[Item], sel_of: Any) -> dict[str, Any]:
    """answer_accuracy, refusal, false refusals and short-answer figures of `items`."""
    correct, refused_ok, false_ref, shorts, em, f1s, reasons = [], [], [], [], [], [], {}
    for it in items:
        d = decide(it.ev, sel_of(it))
        text = " ".join(it.ev.units[i].text for i in d.units)
        if not it.answerable:
            refused_ok.append(not d.answered)
            continue
        false_ref.append(not d.answered)
        if not d.answered:
            reasons[it.id] = d.reason
        if it.answers:
            correct.append(d.answered and contains_answer(text, it.answers))
            if d.answered and it.ev.profile.wants_short:
                shorts.append(d.short is not None)
                pred = d.short[1].text if d.short else text
                em.append(exact_match(pred, it.answers))
                f1s.append(f1(pred, it.answers))

    def mean(v: list[Any]) -> float | None:
        return round(float(np.mean(v)), 3) if v else None

    return {
        "n": len(items),
        "answer_accuracy": mean(correct),
        "refusal_accuracy": mean(refused_ok),
        "refused": f"{sum(refused_ok)}/{len(refused_ok)}",
        "false_refusal_rate": mean(false_ref),
        "short_present": mean(shorts),
        "short_exact_match": mean(em),
        "short_f1": mean(f1s),
    }


def folds_of(items: Sequence[Item]) -> dict[tuple[str, str], int]:
    keys = [(it.dataset, it.id) for it in items]
    random.Random(SEED).shuffle(keys)
    return {k: n % FOLDS for n, k in enumerate(keys)}


def evaluate(items: list[Item], sets: Sequence[str]) -> tuple[Selector, dict[str, Any]]:
    fold = folds_of(items)
    fold_models = [
        train([it for it in items if fold[(it.dataset, it.id)] != f]) for f in range(FOLDS)
    ]
    shipped = train(items)
    table: dict[str, Any] = {}
    for name in sets:
        these = [it for it in items if it.dataset == name]
        lodo = train([it for it in items if it.dataset != name])
        table[name] = {
            "training_fit": score(these, lambda it: shipped),
            "cv": score(these, lambda it: fold_models[fold[(it.dataset, it.id)]]),
            "leave_set_out": score(these, lambda it, m=lodo: m),
        }
    return shipped, table


def print_table(table: dict[str, Any]) -> None:
    cols = ["answer_accuracy", "refused", "false_refusal_rate", "short_present", "short_f1"]
    print("| set | figures | " + " | ".join(cols) + " |")
    print("|---|---|" + "---:|" * len(cols))
    for name, kinds in table.items():
        for kind, m in kinds.items():
            print(f"| {name} | {kind} | " + " | ".join(str(m[c]) for c in cols) + " |")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devsets", type=Path, default=ROOT.parent / "shared" / "devsets")
    ap.add_argument("--data-root", type=Path, default=ROOT / ".qa-data" / "selector")
    ap.add_argument("--sets", default="gold,rgb-dev,sec10q-dev,sec10q-train")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--out", type=Path, default=SELECTOR_WEIGHTS)
    ap.add_argument("--cache", type=Path, help="keep retrieval and vectors here between runs")
    ap.add_argument("--report", type=Path, help="write the figures as JSON here")
    args = ap.parse_args(argv)
    known = default_sets(args.devsets)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    cache = Cache(args.cache)
    for name in names:
        if name not in cache.raw:
            gold, docs = known[name]
            collect(name, gold, docs, args.data_root / name, args.top_k, cache)
            cache.save()
    items = items_of(cache, names)
    shipped, table = evaluate(items, names)
    info = {
        "trained_on": {n: sum(it.dataset == n for it in items) for n in names},
        "folds": FOLDS,
        "seed": SEED,
        "l2": L2,
        "top_k": args.top_k,
        "figures": table,
    }
    shipped = replace(shipped, info=info)
    args.out.write_text(json.dumps(shipped.to_dict(), indent=1) + "\n", encoding="utf-8")
    print_table(table)
    print(f"\nthresholds: typed {shipped.min_typed}, other {shipped.min_other}; wrote {args.out}")
    for kind, model in (
        ("unit", shipped.unit),
        ("candidate", shipped.candidate),
        ("calibrate typed", shipped.calibrate_typed),
        ("calibrate other", shipped.calibrate_other),
    ):
        ranked = sorted(zip(model.names, model.weights, strict=True), key=lambda x: -abs(x[1]))
        print(f"{kind} weights: " + ", ".join(f"{n} {w:+.2f}" for n, w in ranked))
    if args.report:
        args.report.write_text(json.dumps(table, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
