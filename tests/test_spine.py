"""The offline spine end to end: files in, cited answers out, on the real model and Chroma."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from qa import REFUSAL_TEXT, Engine, IndexMismatchError, InputError
from tests.conftest import CORPUS


def _store_ids(engine: Engine) -> tuple[set[str], set[str], set[int]]:
    """Chunk ids as the docstore, Chroma and the BM25 index each see them."""
    db = sqlite3.connect(engine.settings.data_dir / "index.sqlite")
    docstore = {r[0] for r in db.execute("SELECT chunk_id FROM chunks")}
    rowids = {r[0] for r in db.execute("SELECT rowid FROM chunks")}
    fts = {r[0] for r in db.execute("SELECT rowid FROM chunks_fts")}
    chroma = set(engine.store.collection.get(include=[])["ids"])
    db.close()
    assert fts == rowids, "BM25 index out of step with the docstore"
    return docstore, chroma, fts


def test_ingest_is_idempotent(make_engine) -> None:
    engine = make_engine()
    first = engine.ingest([CORPUS])
    assert (first.added, first.unchanged, first.failed) == (3, 0, [])
    chunks = engine.status()["chunks"]
    assert chunks == first.chunks > 3

    again = engine.ingest([CORPUS])
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 3, 0)
    assert engine.status()["chunks"] == chunks
    docstore, chroma, _ = _store_ids(engine)
    assert docstore == chroma and len(docstore) == chunks


def test_changed_file_replaces_its_chunks_and_removal_clears_everywhere(make_engine, corpus_copy):
    engine = make_engine()
    engine.ingest([corpus_copy])
    target = corpus_copy / "000_78c0487111470116.txt"
    target.write_text(
        "Zebra crossings were repainted in Oaxaca on Tuesday by a crew of eleven painters.",
        encoding="utf-8",
    )
    report = engine.ingest([corpus_copy])
    assert (report.updated, report.unchanged) == (1, 2)
    answer = engine.ask("How many painters repainted the zebra crossings?")
    assert answer.answered and "eleven" in answer.text
    assert answer.citations[0].source == target.name

    removed = engine.remove(target)
    assert removed >= 1
    docstore, chroma, _ = _store_ids(engine)
    assert docstore == chroma
    assert all(p.source != target.name for p in engine.retrieve("zebra crossings painters", 10))
    with pytest.raises(InputError):
        engine.remove(target)


def test_files_deleted_from_an_ingested_folder_are_removed(make_engine, corpus_copy):
    engine = make_engine()
    engine.ingest([corpus_copy])
    (corpus_copy / "004_5623fc1813019415.txt").unlink()
    report = engine.ingest([corpus_copy])
    assert (report.removed, report.unchanged) == (1, 2)
    assert engine.status()["documents"] == 2


def test_answers_quote_the_exact_span_they_cite(corpus_engine: Engine) -> None:
    answer = corpus_engine.ask("Who is Rafael Caro Quintero?")
    assert answer.answered and answer.citations
    assert "Guadalajara" in answer.text or "Caro Quintero" in answer.text
    for c in answer.citations:
        text = Path(c.path).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.quote
        assert f"[{c.n}]" in answer.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many drug traffickers did Mexico extradite to the US?", "29"),
        ("In what year was DEA agent Enrique Camarena murdered?", "1985"),
        ("Which cartel did the Treviño Morales brothers found?", "Zetas"),
    ],
)
def test_answers_questions_about_the_corpus(corpus_engine: Engine, question, expected) -> None:
    answer = corpus_engine.ask(question)
    assert answer.answered, answer
    assert expected in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "How old is Rafael Caro Quintero?",
        "Which US judge will preside over Rafael Caro Quintero's trial?",
    ],
)
def test_refuses_when_the_documents_do_not_say(corpus_engine: Engine, question) -> None:
    answer = corpus_engine.ask(question)
    assert not answer.answered
    assert answer.text == REFUSAL_TEXT and answer.citations == []
    assert answer.retrieved, "a refusal still shows what was searched"


def test_follow_up_borrows_the_subject_of_the_previous_turn(corpus_engine: Engine) -> None:
    history = [
        {"role": "user", "content": "Who is Rafael Caro Quintero?"},
        {"role": "assistant", "content": "A former leader of the Guadalajara cartel. [1]"},
    ]
    answer = corpus_engine.ask("When was he released from prison?", history)
    assert "Caro Quintero" in answer.search_query
    assert answer.answered and "2013" in answer.text


def test_stream_yields_text_then_the_answer(corpus_engine: Engine) -> None:
    events = list(corpus_engine.stream("Who is Rafael Caro Quintero?"))
    *deltas, final = events
    assert len(deltas) > 3 and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == final.text


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01"])
def test_empty_question_is_an_input_error(corpus_engine: Engine, question) -> None:
    with pytest.raises(InputError, match="empty"):
        corpus_engine.ask(question)


def test_index_built_with_other_settings_names_the_fix(make_engine, tmp_path) -> None:
    make_engine(data_dir=tmp_path / "d").ingest([CORPUS / "000_78c0487111470116.txt"])
    other = make_engine(data_dir=tmp_path / "d", chunk_size=120)
    with pytest.raises(IndexMismatchError, match=r"qa ingest --rebuild"):
        other.ask("Who was extradited?")
    report = other.ingest([CORPUS], rebuild=True)
    assert report.added == 3
    assert other.ask("Who was extradited?").retrieved


def test_an_index_from_before_chroma_held_the_documents_asks_for_an_ingest(make_engine, tmp_path):
    """An upgrade finds vectors of the older layout (texts in a local file): reads name the
    fix, and a plain ingest rebuilds (its repair drops the old vectors as orphans)."""
    import chromadb

    data = tmp_path / "old"
    client = chromadb.PersistentClient(path=str(data / "chroma"))
    old = client.create_collection("corpus", embedding_function=None)
    old.add(ids=["a-0"], embeddings=[[0.1] * 384], metadatas=[{"doc_id": "a"}])
    del old, client
    engine = make_engine(data_dir=data)
    with pytest.raises(IndexMismatchError, match=r"older corpus-qa.*qa ingest"):
        engine.ask("Who was extradited?")
    assert engine.ingest([CORPUS]).added == 3
    assert engine.store.count_vectors() == engine.store.count_chunks()
    assert engine.ask("Who was extradited?").citations


def test_embedded_text_fits_the_model_window(corpus_engine: Engine) -> None:
    """all-MiniLM-L6-v2 drops word pieces past 256 silently: chunks must fit."""
    from index.chunking import embed_text
    from tests.reference_model import get_embed_model

    tokenizer = get_embed_model()._model.tokenizer
    db = sqlite3.connect(corpus_engine.settings.data_dir / "index.sqlite")
    rows = db.execute("SELECT c.text, d.title FROM chunks c JOIN documents d USING(doc_id)")
    from index.chunking import Chunk

    lengths = [
        len(tokenizer(embed_text(Chunk("", "", 0, 0, 0, None, text), title))["input_ids"])
        for text, title in rows
    ]
    assert lengths and max(lengths) <= 256


def test_a_new_loader_version_reparses_on_the_next_ingest(make_engine, tmp_path, monkeypatch):
    """Loaders changing is not a model change: ingest re-reads every file, no --rebuild."""
    import index

    make_engine(data_dir=tmp_path / "d").ingest([CORPUS])
    monkeypatch.setattr(index, "LOADER_VERSION", index.LOADER_VERSION + 1)
    engine = make_engine(data_dir=tmp_path / "d")
    assert engine.ask("Who is Rafael Caro Quintero?").answered  # still usable meanwhile
    report = engine.ingest([CORPUS])
    assert (report.updated, report.unchanged) == (3, 0)
    assert engine.ingest([CORPUS]).unchanged == 3


def test_concurrent_first_requests_on_a_fresh_engine(corpus_engine: Engine) -> None:
    """Chroma's client registry races if threads open the store at once; the store locks it."""
    from concurrent.futures import ThreadPoolExecutor

    from qa import Settings

    engine = Engine(Settings(data_dir=corpus_engine.settings.data_dir))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: engine.retrieve("Caro Quintero", 3), range(4)))
    assert all(len(r) == 3 for r in results)
    engine.close()


def test_progress_moves_while_one_big_file_is_embedded(
    make_engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress counts bytes, and the chunks of a file being embedded count as they go: a
    single big document must not sit at 0 % until it is done."""
    big = tmp_path / "docs" / "big.txt"
    big.parent.mkdir()
    text = "\n\n".join(f.read_text(encoding="utf-8") for f in sorted(CORPUS.glob("*.txt")))
    big.write_text("\n\n".join(f"Part {i}. {text}" for i in range(2)), encoding="utf-8")
    small = big.with_name("small.txt")
    small.write_text("A short note about the extradition of 29 people.", encoding="utf-8")
    seen: list[tuple[int, int, str]] = []
    monkeypatch.setattr(sys.modules["index.ingest"], "PROGRESS_CHUNKS", 8)
    engine = make_engine()
    report = engine.ingest([big.parent], progress=lambda *a: seen.append(a))
    assert report.chunks > 24
    total = big.stat().st_size + small.stat().st_size
    assert {t for _, t, _ in seen} == {total}
    done = [d for d, _, _ in seen]
    assert done == sorted(done) and done[-1] == total
    assert len({d for d, _, n in seen if n == "big.txt" and 0 < d < total}) >= 3
