"""Hybrid retrieval: dense (Chroma) and BM25 (SQLite FTS5), fused by reciprocal rank.

RRF is written out here rather than through llama-index's QueryFusionRetriever because
the UI shows each passage's dense rank, BM25 rank and fused score, which that class drops.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from index import BATCH_SIZE, Backend, Store, embed_query
from qa.types import Passage

RRF_K = 60


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    """BM25 runs beside the query embedding and the Chroma query (SQLite and ONNX Runtime
    both release the GIL), so hybrid search costs about what dense search alone costs."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="bm25")


def retrieve(
    store: Store,
    query: str,
    top_k: int,
    *,
    batch_size: int = BATCH_SIZE,
    backend: Backend = "onnx",
    candidates: int | None = None,
) -> list[Passage]:
    n = candidates or max(4 * top_k, 20)
    bm25 = _pool().submit(store.bm25_search, query, n)
    dense = store.dense_search(embed_query(query, batch_size, backend), n)
    sparse = bm25.result()
    scores: dict[str, float] = {}
    for ranked in (dense, sparse):
        for rank, (cid, _) in enumerate(ranked, start=1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(scores, key=lambda c: scores[c], reverse=True)[:top_k]
    records = store.chunks(best)
    dense_at = {cid: (r, s) for r, (cid, s) in enumerate(dense, start=1)}
    sparse_at = {cid: (r, s) for r, (cid, s) in enumerate(sparse, start=1)}
    passages = []
    for cid in best:
        rec = records.get(cid)
        if rec is None:  # a vector whose chunk row is gone (repaired on the next ingest)
            continue
        d, b = dense_at.get(cid), sparse_at.get(cid)
        passages.append(
            Passage(
                chunk_id=cid,
                source=rec.source,
                path=rec.path,
                text=rec.text,
                start=rec.start,
                end=rec.end,
                page=rec.page,
                score=scores[cid],
                dense_rank=d[0] if d else None,
                bm25_rank=b[0] if b else None,
                dense_score=d[1] if d else None,
                bm25_score=b[1] if b else None,
            )
        )
    return passages
