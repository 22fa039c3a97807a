"""Hostile inputs: time to refusal and peak memory per case, `/ask` latency during a hostile
upload, and what the parse worker costs on ordinary folders. Figures, never asserts.

    python -m bench.hostile [--code DIR] [--label after] [--timeout 120] [--parts cases,ui,overhead]

`--code` is the source tree whose qa/ and index/ run (default: this one), so the same bench
measures an older checkout (`git archive BASE | tar -x -C /tmp/before`; `--label before`).
Each case runs in a fresh process that first ingests one small file (model loaded, store
open), then ingests the hostile file; the bench samples that process tree's memory every
20 ms: the ingest's own RSS plus the private memory of its parse worker (the pages a fork
shares with its parent are counted once). A case still running at `--timeout` is stopped
and reported as such. Results merge into bench/hostile.json under the label.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.hostile_ui import run_ui
from bench.proctree import Sampler, cpu_s, memory_mb, tree
from index.environment import DEFAULTS
from tests import hostile_files as hf

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "hostile.json"
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("QA_")}, **DEFAULTS}
HANG_TIMEOUT = 5  # QA_PARSE_TIMEOUT for the hanging parser (its refusal takes exactly this)

# name -> (builder, extra environment)
CASES: dict[str, tuple[Callable[[Path], Path], dict[str, str]]] = {
    "docx_bomb_20mb_text": (lambda d: hf.docx_bomb(d / "bomb20.docx", 20), {}),
    "docx_bomb_300mb_text": (lambda d: hf.docx_bomb(d / "bomb300.docx", 300), {}),
    "html_nested_100k": (lambda d: hf.nested_html(d / "nested.html", 100_000), {}),
    "html_200mb_text": (lambda d: hf.big_html(d / "big.html", 200), {}),
    "html_repetitive_3kb": (lambda d: hf.repetitive_html(d / "repetitive.html"), {}),
    "pdf_stream_bomb_200mb": (lambda d: hf.pdf_stream_bomb(d / "bomb.pdf", 200), {}),
    "pdf_text_stream_60mb": (
        lambda d: hf.pdf_stream_bomb(d / "flood.pdf", 60, b"(Lorem ipsum dolor) Tj\n"),
        {},
    ),
    "parser_hangs": (
        lambda d: _write(d / "hang.txt", "A file whose parser never returns.\n"),
        {"QA_PARSE_TIMEOUT": str(HANG_TIMEOUT)},
    ),
}

RUNNER = r"""
import importlib, json, resource, sys, time
from pathlib import Path
from qa import Engine, Settings
hostile, good, data = map(Path, sys.argv[1:4])
engine = Engine(Settings(data_dir=data))
engine.ingest([good])
ingest = importlib.import_module("index.ingest")
real = ingest.load
def load(path, **kw):
    while "hang" in path.name:
        time.sleep(1)
    return real(path, **kw)
ingest.load = load
print(json.dumps({"start": True}), flush=True)
def kids():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
t, c, k = time.monotonic(), time.process_time(), kids()
report = engine.ingest([hostile])
f = report.files[0] if report.files else None
print(json.dumps({"seconds": time.monotonic() - t, "cpu_s": time.process_time() - c,
                  "worker_cpu_s": kids() - k,
                  "status": f.status if f else None, "reason": f.reason if f else None,
                  "chunks": report.chunks}), flush=True)
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---- the cases ------------------------------------------------------------------------------
def run_case(name: str, code: Path, work: Path, timeout: float) -> dict[str, Any]:
    build, extra = CASES[name]
    case_dir = work / name
    case_dir.mkdir(parents=True)
    hostile = build(case_dir)
    warm = f"The warm-up file of case {name} has one paragraph longer than a chunk. " * 40
    good = _write(work / f"{name}-good.txt", warm + "\n")  # the splitter fully loaded, as in use
    env = {**ENV, **extra, "PYTHONPATH": str(code)}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(hostile), str(good), str(work / f"{name}-data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=work,
    )
    assert proc.stdout is not None
    sampler = Sampler(proc.pid)
    lines: list[dict[str, Any]] = []
    reader = threading.Thread(
        target=lambda: lines.extend(json.loads(x) for x in proc.stdout or [] if x.startswith("{")),
        daemon=True,
    )
    reader.start()
    while not lines and proc.poll() is None:
        time.sleep(0.01)
    baseline, _ = memory_mb(proc.pid)
    sampler.reset()
    t0, cpu0, cpu_at_stop = time.monotonic(), cpu_s(proc.pid), None
    try:
        proc.wait(timeout=timeout)
        stopped = False
    except subprocess.TimeoutExpired:
        cpu_at_stop = round(cpu_s(proc.pid) - cpu0, 1)
        for pid in reversed(tree(proc.pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        proc.wait()
        stopped = True
    wall = time.monotonic() - t0
    sampler.close()
    reader.join(timeout=5)
    result = next((x for x in lines if "seconds" in x), {})
    return {
        "case": name,
        "file_kb": round(hostile.stat().st_size / 1024, 1),
        "seconds": round(result.get("seconds", wall), 2),
        "cpu_s": round(result["cpu_s"], 2) if "cpu_s" in result else cpu_at_stop,
        "worker_cpu_s": round(result["worker_cpu_s"], 2) if "worker_cpu_s" in result else None,
        "stopped_at_timeout": stopped,
        "status": result.get("status", "still running" if stopped else "crashed"),
        "reason": result.get("reason"),
        "chunks": result.get("chunks"),
        "rss_before_mb": round(baseline),
        "peak_rss_mb": round(sampler.peak_rss),
        "peak_total_mb": round(sampler.peak_total),
        "env": extra,
    }


# ---- what the worker costs on ordinary folders -----------------------------------------------
PARSE_RUNNER = r"""
import json, resource, sys, time
from pathlib import Path
from index.chunking import chunk_document, doc_id_for, prepare
from index.limits import Limits
from index.loaders import load
from index.worker import ParseWorker
folder, mode = Path(sys.argv[1]), sys.argv[2]
files = sorted(p for p in folder.rglob("*") if p.is_file())
on = mode == "worker"
limits = Limits(max_file_mb=50, max_text_mb=20, max_chunks=30000, max_unzipped_mb=200,
                max_zip_ratio=100, max_html_depth=512, parse_timeout=120 if on else None,
                parse_memory_mb=1024 if on else None)
prepare(200, 30)
def chunk(doc, doc_id):
    return chunk_document(doc, doc_id, chunk_size=200, chunk_overlap=30)
t, c = time.monotonic(), time.process_time()
with ParseWorker(limits, load, chunk) as worker:
    n = sum(len(worker.parse(p, doc_id_for(str(p))).chunks) for p in files)
wall, cpu = time.monotonic() - t, time.process_time() - c
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"files": len(files), "chunks": n, "wall_s": wall,
                  "cpu_s": cpu + kids.ru_utime + kids.ru_stime}))
"""


INGEST_RUNNER = r"""
import dataclasses, json, resource, sys, tempfile, time
from pathlib import Path
import index
from qa import Engine, Settings
folder, mode = Path(sys.argv[1]), sys.argv[2]
engine = Engine(Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-overhead-"))))
s = engine.settings
limits = engine.limits()
if mode != "worker":
    limits = dataclasses.replace(limits, parse_timeout=None, parse_memory_mb=None)
options = index.IngestOptions(chunk_size=s.chunk_size, chunk_overlap=s.chunk_overlap,
    embed_batch_size=s.embed_batch_size, embed_backend=s.embed_backend, limits=limits)
t, c = time.monotonic(), time.process_time()
report = index.ingest(engine.store, [folder], options)
wall, cpu = time.monotonic() - t, time.process_time() - c
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"files": report.added, "chunks": report.chunks, "wall_s": wall,
                  "cpu_s": cpu + kids.ru_utime + kids.ru_stime}))
"""


def run_overhead(code: Path, folders: dict[str, Path], repeats: int = 2) -> dict[str, Any]:
    """Each folder parsed + chunked, then ingested whole (model included), in this process
    and through the worker: best of `repeats` by CPU seconds (the machine is shared)."""
    out: dict[str, Any] = {}
    for (label, folder), (stage, runner) in itertools.product(
        folders.items(), [("parse", PARSE_RUNNER), ("ingest", INGEST_RUNNER)]
    ):
        row: dict[str, Any] = {}
        for mode in ("in_process", "worker"):
            runs = []
            for _ in range(repeats):
                res = subprocess.run(
                    [sys.executable, "-c", runner, str(folder), mode],
                    capture_output=True,
                    text=True,
                    env={**ENV, "PYTHONPATH": str(code)},
                    check=True,
                )
                runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
            best = min(runs, key=lambda r: r["cpu_s"])
            row[mode] = {k: round(v, 3) if isinstance(v, float) else v for k, v in best.items()}
        row["cpu_overhead_s"] = round(row["worker"]["cpu_s"] - row["in_process"]["cpu_s"], 3)
        row["wall_overhead_s"] = round(row["worker"]["wall_s"] - row["in_process"]["wall_s"], 3)
        out[f"{label}: {stage}"] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", type=Path, default=ROOT)
    ap.add_argument("--label", default="after")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--parts", default="cases,ui,overhead")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--ui-parse-timeout", type=float, default=30)
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    entry: dict[str, Any] = results.get(args.label, {})
    entry["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    entry["load_average"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        work = Path(tmp)
        if "cases" in parts:
            cases = entry.setdefault("cases", {})
            for name in args.cases.split(","):
                print(f"· {name} …", file=sys.stderr, flush=True)
                cases[name] = run_case(name, args.code, work, args.timeout)
                print(f"  {json.dumps(cases[name])}", file=sys.stderr, flush=True)
        if "ui" in parts:
            print("· /ask during a hostile upload …", file=sys.stderr, flush=True)
            entry["ui"] = run_ui(args.code, work, args.timeout, args.ui_parse_timeout, ENV)
            print(f"  {json.dumps(entry['ui'])}", file=sys.stderr, flush=True)
        if "overhead" in parts and (args.code / "index" / "worker.py").exists():
            print("· worker overhead …", file=sys.stderr, flush=True)
            folders = {
                "corpus": ROOT / "corpus",
                "rgb-dev (461 small files)": ROOT.parent / "shared/devsets/rgb-dev/docs",
            }
            entry["overhead"] = run_overhead(
                args.code, {k: v for k, v in folders.items() if v.is_dir()}
            )
            print(f"  {json.dumps(entry['overhead'])}", file=sys.stderr, flush=True)
    results[args.label] = entry
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
