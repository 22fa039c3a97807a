"""The fast encoders must give the vectors llama-index's HuggingFaceEmbedding gives."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from index import embeddings
from index.embeddings import embed_query, embed_texts
from qa import Engine
from tests.conftest import ROOT
from tests.reference_model import get_embed_model

TEXTS = [
    "Mexico extradited 29 drug traffickers to the United States.",
    "short",
    "A much longer passage " * 40,  # past 256 word pieces: every path truncates the same way
    "Ünïcödé café naïve — 1985",
]


def cosines(a: list[list[float]], b: list[list[float]]) -> list[float]:
    return [sum(x * y for x, y in zip(u, v, strict=True)) for u, v in zip(a, b, strict=True)]


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_encoder_matches_llama_index_huggingface_embedding(backend: embeddings.Backend) -> None:
    ours = embed_texts(TEXTS, backend=backend)
    reference = get_embed_model().get_text_embedding_batch(TEXTS)
    assert all(len(v) == 384 for v in ours)
    assert min(cosines(ours, reference)) > 0.9999
    q = embed_query("Who was extradited?", backend=backend)
    ref_q = get_embed_model().get_query_embedding("Who was extradited?")
    assert min(cosines([q], [ref_q])) > 0.9999


def test_the_onnx_backend_really_runs_onnx_runtime() -> None:
    encoder = embeddings.get_encoder("onnx")
    assert isinstance(encoder, embeddings.OnnxEncoder)
    assert Path(encoder.session._model_path).exists()


def test_export_is_made_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    target = embeddings.onnx_file(embeddings.model_path())
    assert target.parent == tmp_path / "corpus-qa" and not target.exists()
    encoder = embeddings._make("onnx", "fp32")
    assert isinstance(encoder, embeddings.OnnxEncoder) and target.exists()
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left
    made = target.stat().st_mtime_ns
    embeddings._make("onnx", "fp32")
    assert target.stat().st_mtime_ns == made


def test_a_damaged_export_in_the_cache_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    target = embeddings.onnx_file(embeddings.model_path())
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\x00half a file")
    encoder = embeddings._make("onnx", "fp32")
    assert isinstance(encoder, embeddings.OnnxEncoder) and target.stat().st_size > 1_000_000


def test_without_a_usable_cache_the_onnx_backend_falls_back_to_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    with caplog.at_level(logging.WARNING, logger="index.embeddings"):
        encoder = embeddings._make("onnx", "fp32")
    assert isinstance(encoder, embeddings.TorchEncoder)
    assert "ONNX encoder unavailable" in caplog.text


def test_an_index_built_by_one_backend_answers_through_the_other(tmp_path: Path) -> None:
    from qa import Settings

    built = Engine(Settings(data_dir=tmp_path, embed_backend="torch"))
    built.ingest([ROOT / "corpus"])
    built.close()
    engine = Engine(Settings(data_dir=tmp_path, embed_backend="onnx"))
    passages = engine.retrieve("How many people did Mexico send to the United States?")
    engine.close()
    assert passages and passages[0].dense_rank == 1


def test_a_cold_ask_never_imports_torch(corpus_engine: Engine) -> None:
    """torch takes seconds to import; the onnx backend keeps it off a warm cache's ask path."""
    embeddings.get_encoder("onnx")  # the export exists in the cache by now
    script = (
        "import sys, json\n"
        "from qa import Engine, Settings\n"
        f"e = Engine(Settings(data_dir={str(corpus_engine.settings.data_dir)!r}))\n"
        "a = e.ask('How many alleged drug traffickers did Mexico extradite to the US?')\n"
        "print(json.dumps({'answered': a.answered, 'torch': 'torch' in sys.modules}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"answered": True, "torch": False}


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown embedding backend"):
        embeddings.get_encoder("tensorflow")  # type: ignore[arg-type]
