"""Bulk ingest's encoder is chosen on the machine: timed once, cached, bf16 only if it agrees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index import tuning
from index.embeddings import embed_texts
from qa import Engine, InputError, Settings
from tests.conftest import CORPUS

needs_bf16 = pytest.mark.skipif(not tuning.bf16_units(), reason="this CPU has no bf16 units")


@needs_bf16
def test_bf16_vectors_agree_with_fp32_on_the_probe() -> None:
    assert tuning.bf16_agreement() >= tuning.MIN_COSINE


def test_auto_times_the_candidates_once_and_keeps_the_fastest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tuning, "CANDIDATES", (("onnx", "fp32", 4), ("onnx", "fp32", 16)))
    choice = tuning.choose_encoder(folder=tmp_path)
    assert choice is not None and choice.source == "measured"
    record = tuning.load_record(tmp_path)
    assert record is not None and len(record["results"]) == 2
    fastest = max(record["results"], key=lambda r: r["chunks_per_s"])
    assert (choice.backend, choice.precision, choice.batch_size) == (
        fastest["backend"],
        fastest["precision"],
        fastest["batch_size"],
    )

    def no_second_timing(rounds: int = 2) -> dict[str, object]:
        raise AssertionError("timed again although the choice is cached")

    monkeypatch.setattr(tuning, "time_candidates", no_second_timing)
    assert tuning.choose_encoder(folder=tmp_path) == choice
    # settings that fix part of the choice pick among the timed results
    fixed = tuning.choose_encoder(batch_size=4, folder=tmp_path)
    assert fixed is not None and fixed.batch_size == 4


def test_a_new_cpu_or_package_times_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tuning.choice_file(tmp_path)
    monkeypatch.setattr(tuning, "package_version", lambda dist: "9.9.9")
    assert tuning.choice_file(tmp_path) != before


def test_settings_that_fix_everything_are_used_without_timing(tmp_path: Path) -> None:
    choice = tuning.choose_encoder("torch", "fp32", 16, folder=tmp_path)
    assert choice == tuning.EncoderChoice("torch", "fp32", 16, "set")
    assert tuning.choose_encoder("onnx", "fp32", folder=tmp_path) == tuning.EncoderChoice(
        "onnx", "fp32", 8, "set"
    )
    assert not list(tmp_path.iterdir())  # nothing was timed or written


def test_bf16_on_onnx_is_a_one_line_input_error(tmp_path: Path) -> None:
    engine = Engine(Settings(data_dir=tmp_path, embed_backend="onnx", embed_precision="bf16"))
    with pytest.raises(InputError, match="bf16 runs on the torch backend"):
        engine.ingest([CORPUS])
    engine.close()


def test_ingest_report_and_status_name_the_encoder(tmp_path: Path) -> None:
    engine = Engine(Settings(data_dir=tmp_path, embed_backend="onnx", embed_precision="fp32"))
    report = engine.ingest([CORPUS])
    assert report.encoder == {
        "backend": "onnx",
        "precision": "fp32",
        "batch_size": 8,
        "source": "set",
        "chunks_per_s": None,
    }
    status = engine.status()["encoder"]
    assert status["ingest"]["backend"] == "onnx" and status["query"]["precision"] == "fp32"
    assert engine.ingest([CORPUS]).encoder is None  # nothing to embed: nothing chosen or timed
    engine.close()


@needs_bf16
def test_a_bf16_index_retrieves_like_the_fp32_one(tmp_path: Path) -> None:
    fp32 = Engine(
        Settings(data_dir=tmp_path / "fp32", embed_backend="onnx", embed_precision="fp32")
    )
    bf16 = Engine(
        Settings(data_dir=tmp_path / "bf16", embed_backend="torch", embed_precision="bf16")
    )
    fp32.ingest([CORPUS])
    assert bf16.ingest([CORPUS]).encoder["precision"] == "bf16"  # type: ignore[index]
    for q in [
        "How many alleged drug traffickers did Mexico extradite?",
        "Who is Rafael Caro Quintero?",
        "What happened on February 27, 2025?",
    ]:
        ids = [[p.chunk_id for p in e.retrieve(q, 5)] for e in (fp32, bf16)]
        assert ids[0] == ids[1], q
        assert fp32.ask(q).text == bf16.ask(q).text
    fp32.close()
    bf16.close()


def test_bf16_and_fp32_vectors_of_real_chunks_agree() -> None:
    if not tuning.bf16_units():
        pytest.skip("this CPU has no bf16 units")
    texts = [p.read_text(encoding="utf-8")[:1200] for p in sorted(CORPUS.iterdir())]
    a = embed_texts(texts, backend="onnx")
    b = embed_texts(texts, backend="torch", precision="bf16")
    cos = [
        sum(x * y for x, y in zip(u, v, strict=True)) / (sum(y * y for y in v) ** 0.5)
        for u, v in zip(a, b, strict=True)
    ]
    assert min(cos) >= tuning.MIN_COSINE


def test_a_choice_timed_on_a_busy_machine_is_timed_again_when_it_is_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tuning, "CANDIDATES", (("onnx", "fp32", 4),))
    busy = 4.0 * (os.cpu_count() or 1)
    monkeypatch.setattr(tuning, "load_average", lambda: busy)
    tuning.choose_encoder(folder=tmp_path)
    record = tuning.load_record(tmp_path)
    assert record is not None and record["load_avg"] == busy
    tuning.choose_encoder(folder=tmp_path)  # still busy: the busy timing is kept
    assert tuning.load_record(tmp_path) == record
    monkeypatch.setattr(tuning, "load_average", lambda: 0.0)
    assert tuning.choose_encoder(folder=tmp_path, measure=False) is not None  # status: no timing
    assert tuning.load_record(tmp_path) == record
    tuning.choose_encoder(folder=tmp_path)  # an ingest on a quiet machine times again
    again = tuning.load_record(tmp_path)
    assert again is not None and again["load_avg"] == 0.0
