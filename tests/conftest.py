"""Shared fixtures: real embedding model, real Chroma, temporary data dirs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.environment import set_env_defaults

set_env_defaults()
for var in ("QA_LLM", "QA_CHROMA_HOST", "QA_CHROMA_PORT", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
    os.environ.pop(var, None)

from qa import Engine, Settings  # noqa: E402
from tests.openai_server import openai_server_fixture  # noqa: E402, F401

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[object]:
    """Build engines on fresh data dirs: `make_engine(top_k=3)`."""
    made: list[Engine] = []

    def factory(**overrides: object) -> Engine:
        overrides.setdefault("data_dir", tmp_path / f"data{len(made)}")
        engine = Engine(Settings(**overrides))  # type: ignore[arg-type]
        made.append(engine)
        return engine

    yield factory
    for e in made:
        e.close()


@pytest.fixture(scope="session")
def corpus_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One engine with corpus/ ingested, shared by read-only tests."""
    data = tmp_path_factory.mktemp("corpus-index")
    engine = Engine(Settings(data_dir=data))
    engine.ingest([CORPUS])
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with corpus/ ingested, once per test module; tests open their own engines
    on it (an LLM-mode engine, a CLI process), so it is closed before it is handed out."""
    data = tmp_path_factory.mktemp("corpus-data")
    engine = Engine(Settings(data_dir=data))
    engine.ingest([CORPUS])
    engine.close()
    return data


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of corpus/ for tests that change files."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest
