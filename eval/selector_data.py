"""The labelled evidence the selector learns from: each gold question of each set, retrieved
by the engine and read into units and candidates, with labels.

Retrieval results, document texts and sentence vectors are cached (pickled) so features
can be recomputed in seconds while they are being worked on (`--cache FILE`).
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.formats import load_gold
from eval.metrics import contains_answer, f1
from qa import Engine, Evidence, Passage, Settings, gather_evidence, get_settings

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Item:
    dataset: str
    id: str
    type: str
    answers: list[str]
    sources: list[str]
    ev: Evidence

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def default_sets(devsets: Path) -> dict[str, tuple[Path, Path]]:
    sets = {"gold": (ROOT / "eval" / "gold.jsonl", ROOT / "corpus")}
    for name in ("rgb-dev", "sec10q-dev", "sec10q-train"):
        sets[name] = (devsets / name / "gold.jsonl", devsets / name / "docs")
    return sets


@dataclass
class Raw:
    """What the engine gave for one question: kept so features can be recomputed cheaply."""

    dataset: str
    id: str
    type: str
    question: str
    answers: list[str]
    sources: list[str]
    passages: list[Passage]


class Cache:
    """Retrieved passages, document texts and sentence vectors, pickled between runs."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.raw: dict[str, list[Raw]] = {}
        self.texts: dict[str, str | None] = {}
        self.vectors: dict[str, Any] = {}
        if path and path.exists():
            with path.open("rb") as f:
                raw, self.texts, self.vectors = pickle.load(f)
            self.raw = {k: [Raw(**r) for r in rows] for k, rows in raw.items()}

    def save(self) -> None:
        if self.path:
            with self.path.open("wb") as f:
                raw = {k: [vars(r) for r in rows] for k, rows in self.raw.items()}
                pickle.dump((raw, self.texts, self.vectors), f)


def collect(name: str, gold: Path, docs: Path, data_dir: Path, top_k: int, cache: Cache) -> None:
    """Ingest `docs` (idempotent), retrieve each gold question, keep texts and vectors."""
    settings = Settings(**(get_settings().model_dump() | {"data_dir": data_dir}))
    engine = Engine(settings)
    try:
        report = engine.ingest([docs])
        print(f"{name}: {report.chunks} new chunks, {report.unchanged} unchanged", file=sys.stderr)
        rows = []
        for g in load_gold(gold):
            passages = engine.retrieve(g.question, top_k)
            for p in passages:
                if p.path not in cache.texts:
                    cache.texts[p.path] = engine.document_text(p.path)
            rows.append(
                Raw(name, g.id, g.type, g.question, list(g.answers), list(g.sources), passages)
            )
        cache.raw[name] = rows
        embed_all(engine, rows, cache)
    finally:
        engine.close()


def embed_all(engine: Engine, rows: list[Raw], cache: Cache) -> None:
    """Vectors of every question and unit the features will ask for, in one batch."""
    wanted: list[str] = []

    def note(texts: list[str]) -> list[list[float]]:
        wanted.extend(t for t in texts if t not in cache.vectors)
        return [[0.0]] * len(texts)

    for r in rows:
        gather_evidence(r.question, r.passages, note, cache.texts.get)
    fresh = list(dict.fromkeys(wanted))
    for start in range(0, len(fresh), 256):
        batch = fresh[start : start + 256]
        cache.vectors.update(zip(batch, engine.embed(batch), strict=True))


def items_of(cache: Cache, names: Sequence[str]) -> list[Item]:
    def embed(texts: list[str]) -> list[Any]:
        return [cache.vectors[t] for t in texts]

    return [
        Item(
            r.dataset,
            r.id,
            r.type,
            r.answers,
            r.sources,
            gather_evidence(r.question, r.passages, embed, cache.texts.get),
        )
        for name in names
        for r in cache.raw[name]
    ]


# ---- labels ------------------------------------------------------------------------------
def unit_labels(it: Item) -> list[int]:
    return [
        int(
            bool(it.answers)
            and contains_answer(u.text, it.answers)
            and (not it.sources or u.passage.source in it.sources)
        )
        for u in it.ev.units
    ]


def candidate_labels(it: Item) -> list[int]:
    return [int(bool(it.answers) and f1(c.text, it.answers) >= 0.5) for _, c in it.ev.candidates]


def trainable(it: Item) -> bool:
    """Unanswerable questions teach negatives; answerable ones need answer strings."""
    return not it.answerable or bool(it.answers)
