"""/ask latency while the server parses a hostile upload (part of bench/hostile.py)."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.proctree import tree
from tests import hostile_files as hf

ROOT = Path(__file__).resolve().parent.parent


UI_RUNNER = r"""
import json, sys, time
from pathlib import Path
from qa import Engine, Settings
from ui.app import launch
engine = Engine(Settings(data_dir=Path(sys.argv[1])))
engine.ingest([Path(sys.argv[2])])
app, url = launch(engine, port=int(sys.argv[3]))
print(json.dumps({"url": url}), flush=True)
while True:
    time.sleep(60)
"""
QUESTION = "How many alleged drug traffickers did Mexico extradite to the United States?"


def _ask_ms(client: Any) -> float:
    t = time.perf_counter()
    client.predict(QUESTION, api_name="/ask")
    return (time.perf_counter() - t) * 1000


def _pcts(ms: list[float]) -> dict[str, Any]:
    if not ms:
        return {"n": 0}
    ordered = sorted(ms)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ordered)),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]),
        "max_ms": round(ordered[-1]),
    }


def _text(html: str) -> str:
    import re

    return re.sub(r"<[^>]+>", " ", html).split("·")[-1].strip()[:300]


def run_ui(
    code: Path, work: Path, timeout: float, parse_timeout: float, env: dict[str, str]
) -> dict[str, Any]:
    """/ask latency before and while the server parses a PDF whose 60 MB text stream keeps
    its parser busy, then the time a DOCX bomb upload takes to be refused."""
    from gradio_client import Client, handle_file

    from bench.server import free_port

    flood = hf.pdf_stream_bomb(work / "flood.pdf", 60, b"(Lorem ipsum dolor) Tj\n")
    bomb = hf.docx_bomb(work / "bomb.docx", 20)
    port = free_port()
    env = {**env, "PYTHONPATH": str(code), "QA_PARSE_TIMEOUT": str(parse_timeout)}
    server = subprocess.Popen(
        [sys.executable, "-c", UI_RUNNER, str(work / "ui-data"), str(ROOT / "corpus"), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=work,
    )
    try:
        assert server.stdout is not None
        url = json.loads(server.stdout.readline())["url"]
        client = Client(url, verbose=False)
        baseline = [_ask_ms(client) for _ in range(20)]
        job = Client(url, verbose=False).submit([handle_file(flood)], api_name="/upload")
        t0, during = time.monotonic(), []
        while not job.done() and time.monotonic() - t0 < timeout:
            during.append(_ask_ms(client))
        flood_s = time.monotonic() - t0 if job.done() else None
        flood_reason = _text(job.result()[0]) if job.done() else "still parsing (stopped)"
        bomb_s, bomb_reason = None, "not tried: the server was still busy with the PDF"
        if job.done():
            t1 = time.monotonic()
            bomb_reason = _text(client.predict([handle_file(bomb)], api_name="/upload")[0])
            bomb_s = round(time.monotonic() - t1, 2)
        return {
            "ask_baseline": _pcts(baseline),
            "ask_during_hostile_upload": _pcts(during),
            "hostile_upload": "pdf_text_stream_60mb",
            "hostile_upload_seconds": None if flood_s is None else round(flood_s, 2),
            "hostile_upload_reason": flood_reason,
            "parse_timeout_s": parse_timeout,
            "docx_bomb_upload_seconds": bomb_s,
            "docx_bomb_upload_reason": bomb_reason,
        }
    finally:
        for pid in reversed(tree(server.pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        server.wait()
