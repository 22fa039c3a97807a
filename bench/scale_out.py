"""Server mode with two instances: what a replica pays to follow one ingest worker.

`python -m bench.scale_out` (and `make bench`, when server mode is on) runs a real `chroma run`
and two instances with separate data dirs, A (the ingest worker) and B (a replica):

1. A builds a base index of BENCH_SCALE_OUT chunks (default 10000): real chunk text through
   Store.replace_documents, random unit vectors (no hour of encoding; sync never reads vectors);
2. B opens on an empty data dir: the first open rebuilds its cache from Chroma (timed, and the
   cache's size on disk, per chunk);
3. A ingests 1K new chunks for real (Engine.ingest, the model), then B syncs them: the ratio
   of B's sync to A's ingest is the target (< 5 %);
4. a generation check alone (what every read pays at most once per sync interval), and A's
   re-ingest of the unchanged increment against its first ingest.

Wall seconds and this process's CPU seconds are both written: the machine may be shared, so
compare ratios from the same run. Results go to bench/results.json under "scale_out".
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import env_only
from bench.server import chroma_server
from bench.stages import build_random_index, cpu_s
from bench.synth import generate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
COLLECTION = "scaleout"


class Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), cpu_s()

    def read(self) -> dict[str, float]:
        return {"s": time.perf_counter() - self.wall, "cpu_s": cpu_s() - self.cpu}


def engine(data_dir: Path, port: int) -> Any:
    from qa import Engine, Settings

    return Engine(
        Settings(
            data_dir=data_dir, collection=COLLECTION, chroma_host="127.0.0.1", chroma_port=port
        )
    )


def cache_bytes(data_dir: Path) -> int:
    return sum(f.stat().st_size for f in data_dir.glob("index.sqlite*"))


def run(size: int, work: Path) -> dict[str, Any]:
    for old in ("a", "b", "chroma-server"):
        shutil.rmtree(work / old, ignore_errors=True)
    base_docs, inc_docs = work / f"docs-{size}", work / "docs-increment-1000"
    generate(base_docs, size)
    generate(inc_docs, 1000, seed=99)
    out: dict[str, Any] = {"size": size}
    with chroma_server(work / "chroma-server") as server:
        a = engine(work / "a", server.port)
        clock = Clock()
        out["base_chunks"] = build_random_index(a.store, base_docs)
        out["base_build"] = clock.read()

        clock = Clock()
        b = engine(work / "b", server.port)
        out["replica_documents"] = len(b.store.documents())  # the first open: a full rebuild
        out["replica_first_open"] = clock.read()
        out["replica_cache_bytes"] = cache_bytes(work / "b")
        out["cache_bytes_per_chunk"] = out["replica_cache_bytes"] / out["base_chunks"]

        clock = Clock()
        report = a.ingest([inc_docs])
        out["increment_ingest"] = {**clock.read(), "chunks": report.chunks}
        clock = Clock()
        out["replica_sync_documents"] = b.store.sync()
        out["replica_sync"] = clock.read()
        out["sync_over_ingest"] = out["replica_sync"]["s"] / out["increment_ingest"]["s"]
        out["sync_cpu_over_ingest_cpu"] = (
            out["replica_sync"]["cpu_s"] / out["increment_ingest"]["cpu_s"]
        )

        checks = []
        for _ in range(50):
            t = time.perf_counter()
            b.store.chroma.head()
            checks.append((time.perf_counter() - t) * 1000)
        out["generation_check_ms_median"] = statistics.median(checks)

        clock = Clock()
        again = a.ingest([inc_docs])
        out["increment_reingest"] = {**clock.read(), "unchanged": again.unchanged}
        out["reingest_over_ingest"] = out["increment_reingest"]["s"] / out["increment_ingest"]["s"]
        out["total_chunks"] = b.store.count_chunks()
        a.close()
        b.close()
    out["ran_at"] = time.strftime("%Y-%m-%d %H:%M")
    return out


def main(argv: list[str] | None = None) -> None:
    env_only(__doc__, argv)
    sizes = [int(s) for s in os.environ.get("BENCH_SCALE_OUT", "10000").split(",") if s.strip()]
    work = Path(os.environ.get("BENCH_DIR", ROOT / ".qa-data" / "bench")) / "scale-out"
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"sizes": {}}
    for size in sizes:
        print(f"[scale-out: {size} chunks, one Chroma server, two instances]", file=sys.stderr)
        results.setdefault("scale_out", {})[str(size)] = run(size, work)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results["scale_out"][str(size)], indent=2))


if __name__ == "__main__":
    main()
