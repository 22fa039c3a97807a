"""Calibrate qa.support's threshold: which claims count as stated by a retrieved sentence.

    python -m bench.support_calibration [--out bench/support_calibration.json]

For every answerable question of each dev set (eval/gold.jsonl on corpus/, rgb-dev,
sec10q-dev), the top-5 passages are retrieved and claims are made from them:

- stated (should pass): a retrieved sentence holding a gold answer, whole, and cut to the
  12 words around the answer (models shorten);
- not stated (should fail): a sentence of a document not retrieved for the question
  (off-topic), and the cut claim with its gold answer swapped for another question's
  answer (a wrong figure or name in the right context: the commonest invention).

The threshold maximises balanced accuracy. Figures: the fit on all sets, 5-fold
cross-validation by question (threshold chosen on 4 folds, scored on the 5th), and
leave-one-set-out (chosen on two sets, scored on the third).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
from pathlib import Path
from typing import Any

from qa import Engine, Settings, support
from qa.citing import Citer

ROOT = Path(__file__).resolve().parent.parent
DEVSETS = ROOT.parent / "shared" / "devsets"
SETS = {
    "gold": (ROOT / "corpus", ROOT / "eval" / "gold.jsonl"),
    "rgb-dev": (DEVSETS / "rgb-dev" / "docs", DEVSETS / "rgb-dev" / "gold.jsonl"),
    "sec10q-dev": (DEVSETS / "sec10q-dev" / "docs", DEVSETS / "sec10q-dev" / "gold.jsonl"),
}
GRID = [round(0.30 + 0.02 * i, 2) for i in range(31)]


def _window(sentence: str, answer: str, words: int = 12) -> str:
    at = sentence.lower().find(answer.lower())
    tokens = sentence.split()
    before = len(sentence[:at].split())
    lo = max(0, before - words // 2)
    return " ".join(tokens[lo : lo + words])


def claims_for(engine: Engine, rows: list[dict[str, Any]], rng: random.Random) -> list[dict]:
    """(question id, claim, stated?) examples with their support scores."""
    answers = [a for r in rows for a in r["answers"]]
    out = []
    for r in rows:
        if r["type"] == "unanswerable" or not r["answers"]:
            continue
        passages = engine.retrieve(r["question"], 5)
        citer = Citer(passages, r["question"], engine.document_texts(), engine.embed)
        sentences = citer.sentences()
        holding = [(s, a) for s in sentences for a in r["answers"] if a.lower() in s.text.lower()]
        examples: list[tuple[str, bool]] = []
        if holding:
            s, a = holding[0]
            cut = _window(s.text, a)
            examples += [(s.text, True), (cut, True)]
            others = [
                x for x in answers if x.lower() not in s.text.lower() and x not in r["answers"]
            ]
            if others and a.lower() in cut.lower():
                wrong = rng.choice(others)
                examples.append((re.sub(re.escape(a), wrong, cut, flags=re.I), False))
        retrieved = {p.path for p in passages}
        far = [d for d in engine.sources() if d.path not in retrieved]
        if far:
            doc = rng.choice(far)
            text = engine.document_text(doc.path)
            from qa.extractive import sentence_spans

            spans = [sp for sp in sentence_spans(text) if len(text[sp[0] : sp[1]].split()) >= 6]
            if spans:
                a, b = rng.choice(spans)
                examples.append((text[a:b], False))
        for claim, stated in examples:
            found = support.best_support(claim, r["question"], sentences, citer.embed)
            out.append(
                {
                    "id": r["id"],
                    "claim": claim,
                    "stated": stated,
                    "score": found.score if found else 0.0,
                }
            )
    return out


def balanced_accuracy(examples: list[dict], t: float) -> float:
    pos = [e["score"] >= t for e in examples if e["stated"]]
    neg = [e["score"] < t for e in examples if not e["stated"]]
    return 0.5 * (statistics.fmean(pos) + statistics.fmean(neg)) if pos and neg else 0.0


def best_threshold(examples: list[dict]) -> float:
    # ties: the highest threshold (the safer side: a claim left out costs less than a false one)
    return max(GRID, key=lambda t: (round(balanced_accuracy(examples, t), 4), t))


def cross_validate(examples: list[dict], folds: int = 5) -> tuple[float, list[float]]:
    ids = sorted({e["id"] for e in examples})
    random.Random(13).shuffle(ids)
    fold_of = {q: i % folds for i, q in enumerate(ids)}
    scores, chosen = [], []
    for k in range(folds):
        train = [e for e in examples if fold_of[e["id"]] != k]
        test = [e for e in examples if fold_of[e["id"]] == k]
        t = best_threshold(train)
        chosen.append(t)
        scores.append(balanced_accuracy(test, t))
    return statistics.fmean(scores), chosen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bench" / "support_calibration.json"))
    args = parser.parse_args()
    rng = random.Random(13)
    by_set: dict[str, list[dict]] = {}
    for name, (docs, gold) in SETS.items():
        if not docs.exists():
            print(f"{name}: {docs} not found, skipped")
            continue
        rows = [json.loads(line) for line in gold.read_text().splitlines() if line.strip()]
        with tempfile.TemporaryDirectory() as tmp:
            engine = Engine(Settings(data_dir=Path(tmp)))
            engine.ingest([docs])
            by_set[name] = claims_for(engine, rows, rng)
            engine.close()
    everything = [e for ex in by_set.values() for e in ex]
    fit = best_threshold(everything)
    cv, chosen = cross_validate(everything)
    report: dict[str, Any] = {
        "threshold": fit,
        "fit_balanced_accuracy": round(balanced_accuracy(everything, fit), 4),
        "cv5_balanced_accuracy": round(cv, 4),
        "cv5_thresholds": chosen,
        "sets": {},
    }
    for name, ex in by_set.items():
        rest = [e for other, x in by_set.items() if other != name for e in x]
        t_out = best_threshold(rest) if rest else fit
        report["sets"][name] = {
            "examples": len(ex),
            "stated": sum(e["stated"] for e in ex),
            "at_threshold": round(balanced_accuracy(ex, fit), 4),
            "held_out_threshold": t_out,
            "held_out_balanced_accuracy": round(balanced_accuracy(ex, t_out), 4),
        }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
