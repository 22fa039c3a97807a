"""Queries on the torch encoder: threads left as set at creation (now) against the old
per-batch `torch.set_num_threads(1)` toggle, one caller and 8 concurrent callers (the UI's
chat limit). Prints queries/s and CPU-seconds per query, same run, alternating rounds.

    python -m bench.encoder_threads [--rounds 3] [--queries 96]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from index.embeddings import TorchEncoder, model_path

QUERIES = [
    "Who was extradited to the United States?",
    "How many people did Mexico send?",
    "What was the revenue in the second quarter?",
    "When did the company report its results?",
]


class ToggleEncoder(TorchEncoder):
    """The old behaviour: a small input set torch's process-wide threads to 1 and back."""

    def _batch(self, features: dict[str, Any], small: bool) -> Any:
        torch = self._torch
        if small:
            torch.set_num_threads(1)
        try:
            return super()._batch(features, small)
        finally:
            if small:
                torch.set_num_threads(self.threads)


def run(encoder: TorchEncoder, queries: int, callers: int) -> dict[str, float]:
    texts = [QUERIES[i % len(QUERIES)] for i in range(queries)]
    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(callers) as pool:
        list(pool.map(lambda t: encoder.encode([t]), texts))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"queries_per_s": queries / wall, "cpu_ms_per_query": 1000 * cpu / queries}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--queries", type=int, default=96)
    args = ap.parse_args()
    path = model_path()
    encoders = {"per_encoder": TorchEncoder(path), "toggle_per_batch": ToggleEncoder(path)}
    for e in encoders.values():
        e.encode(QUERIES)  # warm up
    out: dict[str, Any] = {"threads": encoders["per_encoder"].threads}
    for callers in (1, 8):
        rows: dict[str, list[dict[str, float]]] = {name: [] for name in encoders}
        for _ in range(args.rounds):
            for name, e in encoders.items():
                rows[name].append(run(e, args.queries, callers))
        out[f"callers_{callers}"] = {
            name: {k: round(sorted(r[k] for r in rs)[len(rs) // 2], 2) for k in rs[0]}
            for name, rs in rows.items()
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
