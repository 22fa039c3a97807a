"""Memory and CPU of a process and its descendants, sampled from /proc (Linux)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def cpu_s(pid: int) -> float:
    """CPU seconds used so far by `pid` and its descendants that are still alive."""
    ticks = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _kb(path: str, keys: tuple[str, ...]) -> int:
    total = 0
    try:
        for line in Path(path).read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in keys:
                total += int(rest.split()[0])
    except OSError:
        return 0
    return total


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS of `pid`, that plus the private memory of its descendants), in MB."""
    rss = _kb(f"/proc/{pid}/status", ("VmRSS",))
    private = sum(
        _kb(f"/proc/{c}/smaps_rollup", ("Private_Clean", "Private_Dirty")) for c in tree(pid)[1:]
    )
    return rss / 1024, (rss + private) / 1024


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak_rss, self.peak_total, self.stop = pid, 0.0, 0.0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            rss, total = memory_mb(self.pid)
            self.peak_rss, self.peak_total = max(self.peak_rss, rss), max(self.peak_total, total)
            time.sleep(0.02)

    def reset(self) -> None:
        self.peak_rss = self.peak_total = 0.0

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
