"""Turn bench/results.json into Markdown tables, and put them in the README between markers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
MODES = ("embedded", "server")


def _f(v: float | None, digits: int = 0) -> str:
    return "–" if v is None else f"{v:,.{digits}f}"


def _x(a: float | None, b: float | None, digits: int = 2) -> str:
    return "–" if not a or not b else f"{a / b:.{digits}f}×"


def table(results: dict[str, Any]) -> str:
    sizes = sorted(results.get("sizes", {}).values(), key=lambda r: r["size"])
    lines = [
        "| chunks | store | ingest chunks/s | vs limit (wall · CPU) | ingest peak RSS | re-ingest "
        "(vs first) | retrieve p50 / p95 | vs bare p50 | extractive ask p50 / p95 "
        "| `qa ask` cold |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sizes:
        limit = r["limit"]["chunks_per_s"]
        for mode in MODES:
            m = r.get(mode)
            if not m:
                continue
            ing, re_, q = m["ingest"], m["reingest"], m["query"]
            rss = _f(ing["peak_rss_mb"]) + " MB"
            if "server_peak_rss_mb" in m:
                rss += f" (+ server {_f(m['server_peak_rss_mb'])} MB)"
            lines.append(
                f"| {ing['chunks']:,} | {mode} | {_f(ing['chunks_per_s'], 1)} "
                f"| {_x(ing['chunks_per_s'], limit)} · "
                f"{_x(ing.get('chunks_per_cpu_s'), r['limit'].get('chunks_per_cpu_s'))} | {rss} "
                f"| {_f(re_['seconds'], 2)} s ({100 * re_['seconds'] / ing['seconds']:.1f} %) "
                f"| {_f(q['retrieve_ms']['p50'])} / {_f(q['retrieve_ms']['p95'])} ms "
                f"| {_x(q['retrieve_ms']['p50'], q['bare_ms']['p50'])} "
                f"| {_f(q['ask_ms']['p50'])} / {_f(q['ask_ms']['p95'])} ms "
                f"| {_f(m['cold_ask']['median_s'], 1)} s |"
            )
    lines += [
        "",
        "References, measured in the same run:",
        "",
        "| chunks | limit: raw encode chunks/s (batch) | our encoder alone chunks/s (vs limit) "
        "| bare embed + Chroma query p50 / p95 "
        "| textbook llama-index chunks/s | vs limit | its peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sizes:
        lim, li = r["limit"], r["llamaindex"]
        bare = " · ".join(
            f"{mode} {_f(r[mode]['query']['bare_ms']['p50'])} / "
            f"{_f(r[mode]['query']['bare_ms']['p95'])} ms"
            for mode in MODES
            if r.get(mode)
        )
        enc = r.get("encoder")
        ours = (
            f"{enc['backend']} {_f(enc['chunks_per_s'], 1)} "
            f"({_x(enc['chunks_per_s'], lim['chunks_per_s'])}){'¹' if enc.get('note') else ''}"
            if enc
            else "–"
        )
        lines.append(
            f"| {r['size']:,} | {_f(lim['chunks_per_s'], 1)} ({lim['best_batch']}) | {ours} "
            f"| {bare} "
            f"| {_f(li['chunks_per_s'], 1)} | {_x(li['chunks_per_s'], lim['chunks_per_s'])} "
            f"| {_f(li['peak_rss_mb'])} MB |"
        )
    notes = {r["encoder"]["note"] for r in sizes if r.get("encoder", {}).get("note")}
    lines += [f"\n¹ {n}, {sizes[-1]['encoder'].get('ran_at', '')}." for n in sorted(notes)]
    loads = [
        s.get("load_avg")
        for r in sizes
        for s in [r["limit"], r["llamaindex"]]
        + [r[m][k] for m in MODES if r.get(m) for k in ("ingest", "query")]
    ]
    loads = [x for x in loads if x is not None]
    if loads:
        lines += [
            "",
            f"Machine load average during the stages: {min(loads):.1f}–{max(loads):.1f} on "
            f"{results.get('machine', {}).get('cores', '?')} cores (other work shared the "
            "machine when above ~1; wall figures then stretch, CPU-second ratios much less).",
        ]
    scale = sorted(results.get("scale", {}).values(), key=lambda r: r["chunks"])
    if scale:
        lines += [
            "",
            "Retrieval at scale (`BENCH_SCALE`): real chunk text and BM25, random unit vectors "
            "in Chroma (embedded), real query embeddings; the index is built through "
            "`Store.replace_documents`, so *build* is ingestion minus the model:",
            "",
            "| chunks | build chunks/s (CPU) | retrieve p50 / p95 | bare p50 / p95 | vs bare p50 "
            "| BM25 alone p50 | peak RSS |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in scale:
            lines.append(
                f"| {r['chunks']:,} | {_f(r['build_chunks_per_s'])} "
                f"({_f(r['build_chunks_per_cpu_s'])}) "
                f"| {_f(r['retrieve_ms']['p50'])} / {_f(r['retrieve_ms']['p95'])} ms "
                f"| {_f(r['bare_ms']['p50'])} / {_f(r['bare_ms']['p95'])} ms "
                f"| {_x(r['retrieve_ms']['p50'], r['bare_ms']['p50'])} "
                f"| {_f(r['bm25_ms']['p50'], 1)} ms | {_f(r['peak_rss_mb'])} MB |"
            )
    lines += [
        "",
        "Cold `qa ask`, step by step (one fresh process; ms):",
        "",
    ]
    steps: list[str] = []
    rows: list[tuple[str, dict[str, float]]] = []
    for r in sizes:
        for mode in MODES:
            if r.get(mode):
                b = r[mode]["cold_breakdown"]["steps_ms"]
                steps += [s for s in b if s not in steps]
                rows.append((f"{r['size']:,} {mode}", b))
    lines.append("| run | " + " | ".join(steps) + " | total |")
    lines.append("|---|" + "---:|" * (len(steps) + 1))
    for name, b in rows:
        cells = " | ".join(_f(b.get(s)) for s in steps)
        lines.append(f"| {name} | {cells} | {_f(sum(b.values()))} |")
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> list[str]:
    """The issue's targets, each with the figure that decides it (or why there is none)."""
    sizes = sorted(results.get("sizes", {}).values(), key=lambda r: r["size"])
    scale = {r["chunks"] // 1000 * 1000: r for r in results.get("scale", {}).values()}
    out: list[str] = []
    big = next((r for r in reversed(sizes) if r.get("embedded")), None)
    if big:
        e, lim = big["embedded"], big["limit"]
        wall = e["ingest"]["chunks_per_s"] / lim["chunks_per_s"]
        cpu = (e["ingest"].get("chunks_per_cpu_s") or 0) / (lim.get("chunks_per_cpu_s") or 1)
        out.append(
            f"- ingestion ≥ 0.8× the raw encode limit: {wall:.2f}× wall, {cpu:.2f}× per "
            f"CPU-second at {e['ingest']['chunks']:,} chunks"
        )
        if big.get("encoder"):
            enc = big["encoder"]
            out.append(
                f"- the pipeline around the model: ingestion runs at "
                f"{e['ingest']['chunks_per_cpu_s'] / enc['chunks_per_cpu_s']:.2f}× per "
                f"CPU-second of our {enc['backend']} encoder alone on the same texts"
            )
        rss = [big[m]["ingest"]["peak_rss_mb"] for m in MODES if big.get(m)]
        rss += [big[m]["query"]["peak_rss_mb"] for m in MODES if big.get(m)]
        out.append(
            f"- peak RSS < 2 GB: {max(rss):,.0f} MB at most (ingest and query processes) "
            f"at {e['ingest']['chunks']:,} chunks"
        )
        rel = e["reingest"]["seconds"] / e["ingest"]["seconds"]
        out.append(
            f"- re-ingest of an unchanged corpus < 5 % of its first ingest: "
            f"{100 * rel:.1f} % at {e['ingest']['chunks']:,} chunks"
        )
        out.append(f"- `qa ask` cold start: {e['cold_ask']['median_s']:.1f} s median (see below)")
    for r in sorted(scale.values(), key=lambda r: r["chunks"]):
        ratio = r["retrieve_ms"]["p50"] / r["bare_ms"]["p50"]
        out.append(
            f"- retrieval p50 ≤ 1.5× bare embed + Chroma query: {ratio:.2f}× at "
            f"{r['chunks']:,} chunks (probe); peak RSS of building that index "
            f"{r['peak_rss_mb']:,.0f} MB"
            + (
                f" — missed: BM25 alone takes {r['bm25_ms']['p50']:.0f} ms (an FTS5 OR-query "
                "scores every chunk holding a common term)"
                if ratio > 1.5
                else ""
            )
        )
    if not any(r["size"] >= 10000 for r in sizes):
        out.append(
            "- full ingestion at 10K / 50K chunks not run yet (about 10 and 50 minutes of "
            "encoding per store mode on an idle machine): `BENCH_SIZES=10000,50000 make bench`"
        )
    return out


def encoders_table(results: dict[str, Any]) -> list[str]:
    """Every runtime/precision/batch size on the same texts, against the fp32 limit."""
    runs = sorted(results.get("encoders", {}).values(), key=lambda r: r["size"])
    if not runs:
        return []
    units = results.get("machine", {}).get("bf16_units") or ["none"]
    lines = [
        "",
        f"Encoders side by side (`BENCH_MODES= make bench`; CPU bf16 units: {', '.join(units)}; "
        "bf16 runs only where the CPU has them): chunks/s and the ratio to the raw fp32 "
        "sentence-transformers limit of the same run; *chosen* is what `qa ingest` picks here:",
        "",
        "| chunks | ran at (load) | runtime | precision | batch | chunks/s | vs limit (wall · CPU) "
        "| chosen |",
        "|---:|---|---|---|---:|---:|---:|---|",
    ]
    for r in runs:
        lim, chosen = r["limit"], r.get("chosen", {})
        for e in r["encoders"]:
            pick = all(e.get(k) == chosen.get(k) for k in ("backend", "precision", "batch_size"))
            lines.append(
                f"| {r['ref_chunks']:,} | {r.get('ran_at', '?')} ({_f(e.get('load_avg'), 1)}) | "
                f"{e['backend']} | {e.get('precision', 'fp32')} | {e['batch_size']} | "
                f"{_f(e['chunks_per_s'], 1)} | {_x(e['chunks_per_s'], lim.get('chunks_per_s'))} · "
                f"{_x(e['chunks_per_cpu_s'], lim.get('chunks_per_cpu_s'))} | "
                f"{'yes' if pick else ''} |"
            )
    return lines


def _backend(results: dict[str, Any]) -> str:
    found = {
        r[m]["ingest"].get("backend", "torch")
        for r in results.get("sizes", {}).values()
        for m in MODES
        if r.get(m)
    }
    return " / ".join(sorted(found)) or "?"


def section(results: dict[str, Any]) -> str:
    m = results.get("machine", {})
    sizes = sorted(results.get("sizes", {}).values(), key=lambda r: r["size"])
    ran = ", ".join(f"{r['size']:,} on {r.get('ran_at', '?')}" for r in sizes)
    return "\n".join(
        [
            START,
            "## Benchmarks",
            "",
            f"`make bench` on {m.get('cores', '?')} CPU cores ({m.get('cpu', '?')}), "
            f"torch {m.get('torch', '?')} CPU, encoder backend {_backend(results)}; sizes run: "
            f"{ran}. Figures are ratios against references measured in the same run: *limit* "
            "is raw `SentenceTransformer.encode` of the same chunk texts at its best batch size "
            "(the issue's physical limit; our ONNX encoder goes past it), *our encoder alone* "
            "is `index.embeddings` over the same texts, *bare* is one query embedding plus one "
            "Chroma query, *textbook* is SimpleDirectoryReader → SentenceSplitter → "
            "`VectorStoreIndex.from_documents` over ChromaVectorStore. "
            "`BENCH_SIZES=1000,10000 make bench` adds sizes (50000 takes about 25 minutes per "
            "store mode); `QA_EMBED_BACKEND=torch make bench` ingests with the torch backend; "
            "results merge into `bench/results.json`.",
            "",
            table(results),
            *encoders_table(results),
            "",
            "Targets (issue 7), from the figures above:",
            "",
            *targets(results),
            "",
            "### Chroma server mode",
            "",
            "Run a Chroma server with `make chroma` (`chroma run --path .qa-data/chroma-server "
            "--host 127.0.0.1 --port 8000`; `QA_CHROMA_PORT=8001 make chroma` for another port), "
            "then point corpus-qa at it:",
            "",
            "```sh",
            "export QA_CHROMA_HOST=127.0.0.1 QA_CHROMA_PORT=8000",
            "qa ingest corpus/ && qa ask 'Who was extradited?' && qa status   # store: server",
            "```",
            "",
            "Everything lives on the server: chunk vectors, texts and offsets, one record per "
            "document with its full text, and the index generation. `QA_DATA_DIR` holds only a "
            "cache (the SQLite docstore and BM25), rebuilt from the server when it is missing. "
            "If the server is down, commands fail with one line naming host:port, and the same "
            "process (UI, API) reconnects by itself once the server is back.",
            "",
            *scale_out(results),
            END,
        ]
    )


def scale_out(results: dict[str, Any]) -> list[str]:
    """The "Scaling out" section: the figures of bench/scale_out.py, and what they imply."""
    runs = results.get("scale_out") or {}
    if not runs:
        return []
    size = max(runs, key=int)
    r = runs[size]
    n = r["base_chunks"]
    per_chunk = r["cache_bytes_per_chunk"]
    rebuild_per_chunk = r["replica_first_open"]["s"] / n
    mb = 1024 * 1024
    return [
        "### Scaling out",
        "",
        "Run N UI/API replicas, one ingest worker and one Chroma server (or a Chroma "
        "cluster), all with the same `QA_CHROMA_HOST/PORT` and `QA_COLLECTION`, each with a "
        "`QA_DATA_DIR` of its own. Any process may ingest: a lease record in Chroma lets one "
        "writer in at a time (a second is told `another ingest is running`), and a writer "
        "that dies stops renewing its lease, which expires after 30 s (at once on the same "
        "host, where its pid is seen gone). Each replica checks the index generation (one "
        "round trip, " + f"{r['generation_check_ms_median']:.1f} ms here) when it opens and "
        "then at most every 2 s while it serves, and fetches only the documents whose "
        "record changed. A replica keeps locally only its cache: the docstore rows (chunk "
        "and document texts) and the FTS5 BM25 index.",
        "",
        f"Measured by `python -m bench.scale_out` ({r.get('ran_at', '?')}, a real `chroma run`"
        ", two instances, shared 2-core machine; wall seconds, CPU-seconds of the instance "
        "process in bench/results.json):",
        "",
        "| figure | value |",
        "|---|---|",
        f"| replica's first open at {n:,} chunks (cache rebuilt from the server) | "
        f"{r['replica_first_open']['s']:.1f} s ({r['replica_first_open']['cpu_s']:.1f} CPU-s) |",
        f"| its cache on disk | {r['replica_cache_bytes'] / mb:.1f} MB "
        f"({per_chunk / 1024:.2f} KB a chunk) |",
        f"| A ingests {r['increment_ingest']['chunks']:,} new chunks | "
        f"{r['increment_ingest']['s']:.1f} s |",
        f"| B picks them up (one sync) | {r['replica_sync']['s']:.2f} s = "
        f"{100 * r['sync_over_ingest']:.1f} % of that ingest (target < 5 %) |",
        f"| re-ingest of those unchanged files | {100 * r['reingest_over_ingest']:.1f} % of "
        "their first ingest |",
        "",
        "Extrapolated linearly from that measurement: the cache of a replica at 50K chunks is "
        f"about {50_000 * per_chunk / mb:.0f} MB and its first open takes about "
        f"{50_000 * rebuild_per_chunk:.0f} s; afterwards a replica only pays the sync of what "
        "changed. A paper estimate for 1M chunks: vectors on the server 1M × 384 × 4 B = "
        "1.5 GB, plus the HNSW graph (~0.1–0.2 GB at M = 16) in memory; chunk texts, "
        "metadata and document texts on the server's disk about 2–3 GB (Chroma also "
        "indexes chunk texts for its own full-text search); per replica a cache of about "
        f"{1_000_000 * per_chunk / 1024**3:.1f} GB and a first open of about "
        f"{1_000_000 * rebuild_per_chunk / 60:.0f} minutes (ship a copy of a warm cache "
        "folder to start a replica faster: any copy is valid, it syncs from its generation).",
    ]


def update_readme(path: Path, results: dict[str, Any]) -> None:
    """Replace only the text between the markers; add the section if there are none."""
    new = section(results)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + new + tail
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + new + "\n"
    path.write_text(text, encoding="utf-8")
