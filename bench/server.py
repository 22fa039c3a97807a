"""Start a real Chroma server (`chroma run`) on a free loopback port, for the benchmark."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ChromaServer:
    host: str
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_heartbeat(host: str, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://{host}:{port}/api/v2/heartbeat"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no Chroma heartbeat at {host}:{port}") from None
            time.sleep(0.2)


@contextlib.contextmanager
def chroma_server(path: Path, port: int | None = None) -> Iterator[ChromaServer]:
    chroma = Path(sys.executable).with_name("chroma")
    host, port = "127.0.0.1", port or free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", host, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_for_heartbeat(host, port)
        yield ChromaServer(host, port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
