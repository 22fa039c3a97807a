"""`make bench`: ingest, query, re-ingest and cold-start figures against same-run references.

Environment:
  BENCH_SIZES       chunk counts, comma-separated (default "1000"; 10000 and 50000 opt-in)
  BENCH_MODES       "embedded,server" (default both)
  BENCH_REF_CHUNKS  chunks the references (raw encode, textbook llama-index) run over,
                    the first N of the same corpus (default 2000; throughput is per chunk)
  BENCH_QUERIES     questions per query stage (default 40)
  BENCH_DIR         scratch folder (default .qa-data/bench)
  BENCH_SCALE       chunk counts for the retrieval-at-scale probe (e.g. "10000,50000"; default
                    none): real chunk text with random vectors, so no hours of encoding
  BENCH_PROFILE     1 = also write bench/profile-ingest-<size>.txt (cProfile of ingestion)
  BENCH_SCALE_OUT   chunk counts for the two-instance server section (bench/scale_out.py;
                    default "10000", run when server mode is on)

Each stage runs in its own process (peak RSS = that process's VmHWM). Results merge into
bench/results.json by size, and the README table between the bench markers is rewritten.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import env_only, report
from bench.server import chroma_server
from bench.stages import peak_rss_mb
from bench.synth import CHUNKS_PER_FILE, generate, questions
from index import tuning
from index.environment import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
ENV = {**os.environ, **DEFAULTS}


def stage(name: str, **args: Any) -> dict[str, Any]:
    print(f"  · {name} …", end="", flush=True, file=sys.stderr)
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "bench.stages", name, json.dumps(args)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"bench stage {name} failed ({out.returncode})")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f" {time.perf_counter() - t:.0f}s", file=sys.stderr)
    return result


def cold_ask(data_dir: Path, question: str, server: Any, runs: int = 3) -> dict[str, Any]:
    """Wall time of `qa ask --json` as a user runs it: a new process each time."""
    qa = Path(sys.executable).with_name("qa")
    env = {**ENV, "QA_DATA_DIR": str(data_dir), "QA_COLLECTION": "bench"}
    env.pop("QA_CHROMA_HOST", None)
    env.pop("QA_CHROMA_PORT", None)
    if server:
        env.update(QA_CHROMA_HOST=server.host, QA_CHROMA_PORT=str(server.port))
    walls = []
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run([str(qa), "ask", question, "--json"], env=env, capture_output=True)
        if out.returncode != 0:
            raise SystemExit(f"qa ask failed: {out.stderr.decode()[-2000:]}")
        walls.append(time.perf_counter() - t)
    return {"runs_s": walls, "median_s": statistics.median(walls)}


def run_mode(
    size: int, mode: str, docs: Path, work: Path, qs: list[dict[str, str]]
) -> dict[str, Any]:
    data_dir = work / f"data-{size}-{mode}"
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"[{size} chunks, {mode}]", file=sys.stderr)
    base = {"data_dir": str(data_dir), "docs": str(docs)}
    profile = os.environ.get("BENCH_PROFILE") == "1" and mode == "embedded"

    def body(server: Any) -> dict[str, Any]:
        args = {**base, "host": server.host, "port": server.port} if server else base
        prof = {"profile": str(ROOT / "bench" / f"profile-ingest-{size}.txt")} if profile else {}
        r: dict[str, Any] = {"ingest": stage("ingest", **args, **prof)}
        r["reingest"] = stage("ingest", **args)
        r["query"] = stage("query", **args, questions=qs)
        r["cold_ask"] = cold_ask(data_dir, qs[0]["question"], server)
        r["cold_breakdown"] = stage("cold_breakdown", **args, question=qs[1]["question"])
        if server:
            r["server_peak_rss_mb"] = peak_rss_mb(server.pid)
        return r

    if mode == "server":
        with chroma_server(data_dir / "chroma-server") as server:
            return body(server)
    return body(None)


def run_size(size: int, modes: list[str], work: Path) -> dict[str, Any]:
    docs = work / f"docs-{size}"
    facts = generate(docs, size)
    qs = [f.__dict__ for f in questions(facts, int(os.environ.get("BENCH_QUERIES", "40")))]
    ref = min(size, int(os.environ.get("BENCH_REF_CHUNKS", "2000")))
    print(f"[{size} chunks, references over {ref}]", file=sys.stderr)
    out: dict[str, Any] = {"size": size, "ref_chunks": ref}
    out["limit"] = stage("raw_encode", docs=str(docs), limit=ref)
    out["encoder"] = stage("encoder_encode", docs=str(docs), limit=ref)
    li_dir = work / f"llamaindex-{size}"
    shutil.rmtree(li_dir, ignore_errors=True)
    files = max(1, round(ref / CHUNKS_PER_FILE))
    out["llamaindex"] = stage("llamaindex", docs=str(docs), data_dir=str(li_dir), files=files)
    shutil.rmtree(li_dir, ignore_errors=True)
    for mode in modes:
        out[mode] = run_mode(size, mode, docs, work, qs)
    return out


def run_encoders(size: int, work: Path) -> dict[str, Any]:
    """Every runtime/precision/batch size on the same texts, beside the fp32 limit of the same
    run, and the one ingest chooses on this machine. `BENCH_MODES=` runs only this (minutes)."""
    docs = work / f"docs-{size}"
    generate(docs, size)
    ref = min(size, int(os.environ.get("BENCH_REF_CHUNKS", "2000")))
    print(f"[{size} chunks, encoders over {ref}]", file=sys.stderr)
    started = time.time()
    encoders = [
        stage("encoder_encode", docs=str(docs), limit=ref, backend=b, precision=p, batch_size=n)
        for b, p, n in tuning.CANDIDATES
        if p == "fp32" or tuning.bf16_units()
    ]
    return {
        "size": size,
        "ref_chunks": ref,
        "limit": stage("raw_encode", docs=str(docs), limit=ref),
        "encoders": encoders,
        "chosen": _chosen_encoder(),
        "ran_at": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
    }


def _chosen_encoder() -> dict[str, Any]:
    """What `qa ingest` uses here: read from the cache the stages above filled, never timed."""
    from qa import Settings

    s = Settings()
    chosen = tuning.choose_encoder(
        s.embed_backend, s.embed_precision, s.embed_batch_size, measure=False
    )
    return chosen.to_dict() if chosen else {}


def run_scale(size: int, work: Path) -> dict[str, Any]:
    docs = work / f"docs-{size}"
    qs = [f.__dict__ for f in questions(generate(docs, size), 40)]
    data_dir = work / f"scale-{size}"
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"[{size} chunks, retrieval at scale]", file=sys.stderr)
    r = stage("retrieval_scale", docs=str(docs), data_dir=str(data_dir), questions=qs)
    shutil.rmtree(data_dir, ignore_errors=True)
    r["ran_at"] = time.strftime("%Y-%m-%d %H:%M")
    return r


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import torch

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "bf16_units": tuning.bf16_units(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> None:
    env_only(__doc__, argv)
    sizes = [int(s) for s in os.environ.get("BENCH_SIZES", "1000").split(",") if s.strip()]
    modes = [m.strip() for m in os.environ.get("BENCH_MODES", "embedded,server").split(",")]
    work = Path(os.environ.get("BENCH_DIR", ROOT / ".qa-data" / "bench"))
    work.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"sizes": {}}
    results["machine"] = machine()
    for size in sizes:
        results.setdefault("encoders", {})[str(size)] = run_encoders(size, work)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        if modes == [""]:
            continue
        started = time.time()
        r = run_size(size, modes, work)
        r["ran_at"] = time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
        r["wall_s"] = time.time() - started
        results["sizes"][str(size)] = r
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(report.table(results))
    if "server" in modes:
        from bench import scale_out

        for size in [int(s) for s in os.environ.get("BENCH_SCALE_OUT", "10000").split(",") if s]:
            results.setdefault("scale_out", {})[str(size)] = scale_out.run(size, work / "scale-out")
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for size in [int(s) for s in os.environ.get("BENCH_SCALE", "").split(",") if s.strip()]:
        results.setdefault("scale", {})[str(size)] = run_scale(size, work)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    report.update_readme(ROOT / "README.md", results)
    print(f"wrote {RESULTS.relative_to(ROOT)} and the README bench section", file=sys.stderr)


if __name__ == "__main__":
    main()
