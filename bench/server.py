"""A real Chroma server (`chroma run`) on a free loopback port, for the benchmark and tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from index.environment import DEFAULTS


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ChromaServer:
    """Can be stopped and started again on the same port and data, to test reconnection."""

    def __init__(self, path: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.path, self.host, self.port = path, host, port or free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        chroma = Path(sys.executable).with_name("chroma")
        self.proc = subprocess.Popen(
            [chroma, "run", "--path", self.path, "--host", self.host, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **DEFAULTS},
        )
        deadline = time.monotonic() + timeout
        url = f"http://{self.host}:{self.port}/api/v2/heartbeat"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"chroma server did not start on {self.host}:{self.port}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


@contextlib.contextmanager
def chroma_server(path: Path, port: int | None = None) -> Iterator[ChromaServer]:
    server = ChromaServer(path, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
