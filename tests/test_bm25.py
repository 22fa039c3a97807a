"""BM25 query pruning on a real SQLite FTS5 index: very common terms leave the MATCH query
only above both thresholds, and the rare-word chunk still ranks first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import index.bm25 as store_mod
from index.store import Store, bm25_match

# Of 80 chunks, 60 say "harbour", 50 "pier", 40 "dock", 10 "ferry", one "zeppelin".
TEXTS = [
    " ".join(
        ["harbour report"]
        + (["pier"] if i < 50 else [])
        + (["dock"] if i < 40 else [])
        + (["ferry schedule"] if i >= 50 else [])
        + (["zeppelin landing"] if i == 55 else [])
        + [f"item {i}"]
    )
    for i in range(60)
] + [f"lighthouse log {i}" for i in range(20)]
RARE = "c55"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "data", "bm25", {"test": 1})
    with s._db() as db:
        db.executemany(
            "INSERT INTO chunks(chunk_id, doc_id, idx, text) VALUES (?, 'd', ?, ?)",
            [(f"c{i}", i, t) for i, t in enumerate(TEXTS)],
        )
    yield s
    s.close()


def thresholds(monkeypatch: pytest.MonkeyPatch, min_rows: int, share: float) -> None:
    monkeypatch.setattr(store_mod, "PRUNE_MIN_ROWS", min_rows)
    monkeypatch.setattr(store_mod, "PRUNE_SHARE", share)


def test_common_term_pruned_above_both_thresholds(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = "Which harbour ferry had a zeppelin?"
    full = store.bm25_search(query, 100)
    assert full[0][0] == RARE
    assert len(full) == 60  # every "harbour" chunk

    thresholds(monkeypatch, min_rows=20, share=0.3)  # cut-off: 24 rows (30% of 80)
    assert bm25_match(store._conn(), query) == '"ferry" OR "zeppelin"'
    pruned = store.bm25_search(query, 100)
    assert pruned[0][0] == RARE
    assert {cid for cid, _ in pruned} == {f"c{i}" for i in range(50, 60)}  # the "ferry" chunks

    thresholds(monkeypatch, min_rows=100, share=0.3)  # a corpus under the floor: untouched
    assert bm25_match(store._conn(), query) == '"harbour" OR "ferry" OR "zeppelin"'
    assert store.bm25_search(query, 100) == full

    thresholds(monkeypatch, min_rows=20, share=0.8)  # "harbour" is in 75% of chunks, not 80%
    assert bm25_match(store._conn(), query) == '"harbour" OR "ferry" OR "zeppelin"'


def test_keeps_the_rarest_terms(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    thresholds(monkeypatch, min_rows=20, share=0.3)
    # every term over the cut-off: the two rarest stay, in the query's order
    assert bm25_match(store._conn(), "harbour pier dock") == '"pier" OR "dock"'
    # no more terms than KEEP_RAREST: never pruned
    assert bm25_match(store._conn(), "harbour pier") == '"harbour" OR "pier"'
    assert store.bm25_search("harbour pier dock", 3)


def test_counts_go_through_the_porter_tokenizer(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query word is counted as its stem: "harbours" as "harbour" (fts5vocab lists stems)."""
    thresholds(monkeypatch, min_rows=20, share=0.3)
    assert bm25_match(store._conn(), "harbours ferries zeppelins") == '"ferries" OR "zeppelins"'
    assert store.bm25_search("harbours ferries zeppelins", 5)[0][0] == RARE
