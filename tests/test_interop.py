"""corpus-qa inside llama-index: real retriever, query engine and embedding over a real index."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.schema import NodeWithScore, TextNode

import index
from qa import Engine, InputError
from tests.conftest import CORPUS, ROOT

QUESTION = "Who is Rafael Caro Quintero?"


def exact(engine: Engine, node: TextNode) -> bool:
    text = engine.document_text(node.metadata["path"])
    return text[node.start_char_idx : node.end_char_idx] == node.get_content()


def test_retriever_gives_the_engines_hybrid_passages_as_exact_nodes(corpus_engine: Engine) -> None:
    retriever = corpus_engine.as_retriever(similarity_top_k=4)
    assert isinstance(retriever, BaseRetriever)
    hits = retriever.retrieve("extradited to the United States")
    passages = corpus_engine.retrieve("extradited to the United States", 4)
    assert [h.node.node_id for h in hits] == [p.chunk_id for p in passages]
    assert [h.score for h in hits] == [p.score for p in passages]
    for hit in hits:
        assert isinstance(hit, NodeWithScore) and isinstance(hit.node, TextNode)
        assert exact(corpus_engine, hit.node)
        assert set(hit.node.metadata) >= {"path", "page", "dense_rank", "bm25_rank"}
        assert "bm25_rank" not in hit.node.get_content(metadata_mode="llm")  # type: ignore[arg-type]
    assert any(h.node.metadata["bm25_rank"] for h in hits)  # BM25 took part


def test_retriever_default_top_k_and_async(corpus_engine: Engine) -> None:
    retriever = corpus_engine.as_retriever()
    assert len(retriever.retrieve(QUESTION)) == corpus_engine.settings.top_k
    hits = asyncio.run(retriever.aretrieve(QUESTION))
    assert [h.node.node_id for h in hits] == [h.node.node_id for h in retriever.retrieve(QUESTION)]


def test_query_engine_response_carries_the_cited_spans(corpus_engine: Engine) -> None:
    query_engine = corpus_engine.as_query_engine()
    assert isinstance(query_engine, BaseQueryEngine)
    response = query_engine.query(QUESTION)
    answer = corpus_engine.ask(QUESTION)
    assert isinstance(response, Response) and response.response == answer.text
    citations = response.metadata["citations"]  # type: ignore[index]
    assert citations == answer.citations and citations
    assert [n.node.get_content() for n in response.source_nodes] == [c.quote for c in citations]
    for node, c in zip(response.source_nodes, citations, strict=True):
        assert (node.node.start_char_idx, node.node.end_char_idx) == (c.start, c.end)  # type: ignore[attr-defined]
        assert exact(corpus_engine, node.node)  # type: ignore[arg-type]
        assert node.score == c.score


def test_refusal_has_no_sources(corpus_engine: Engine) -> None:
    response = corpus_engine.as_query_engine().query("What is the capital of Australia?")
    assert response.metadata["answered"] is False  # type: ignore[index]
    assert response.source_nodes == [] and response.metadata["citations"] == []  # type: ignore[index]


def test_streaming_query_engine_streams_then_fills_sources(corpus_engine: Engine) -> None:
    response = corpus_engine.as_query_engine(streaming=True).query(QUESTION)
    assert isinstance(response, StreamingResponse) and response.source_nodes == []
    tokens = list(response.response_gen)
    assert len(tokens) > 3 and "".join(tokens) == corpus_engine.ask(QUESTION).text
    assert [n.node.get_content() for n in response.source_nodes] == [
        c.quote
        for c in response.metadata["citations"]  # type: ignore[index]
    ]


def test_bad_question_fails_at_query_time(corpus_engine: Engine) -> None:
    with pytest.raises(InputError):
        corpus_engine.as_query_engine(streaming=True).query("   ")
    with pytest.raises(InputError):
        corpus_engine.as_retriever().retrieve("")


@pytest.mark.parametrize("k", [0, -1, 51, 2.5])
def test_bad_top_k_is_an_input_error(corpus_engine: Engine, k: object) -> None:
    with pytest.raises(InputError):
        corpus_engine.as_retriever(similarity_top_k=k)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        corpus_engine.as_query_engine(similarity_top_k=k)  # type: ignore[arg-type]


def test_async_query(corpus_engine: Engine) -> None:
    response = asyncio.run(corpus_engine.as_query_engine(similarity_top_k=3).aquery(QUESTION))
    assert response.response == corpus_engine.ask(QUESTION, top_k=3).text  # type: ignore[union-attr]


def test_embedding_is_the_index_model(corpus_engine: Engine) -> None:
    embedding = corpus_engine.as_embedding()
    assert isinstance(embedding, BaseEmbedding)
    texts = ["Who was extradited?", "Mexico sent 29 prisoners."]
    backend = corpus_engine.settings.query_backend  # the encoder the engine's queries use
    assert embedding.get_text_embedding_batch(texts) == index.embed_texts(texts, backend=backend)
    assert embedding.get_query_embedding(texts[0]) == index.embed_query(texts[0], backend=backend)


def readme_snippet() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"<!-- llama-index:start -->\s*```python\n(.*?)```\s*<!-- llama-index:end -->",
        readme,
        re.DOTALL,
    )
    assert block, "README lost its llama-index example"
    return block.group(1)


def test_readme_llama_index_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs the README's code verbatim in a folder holding what it names: corpus/ and README."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(readme_snippet(), "README.md", "exec"), scope)
    try:
        response = scope["response"]
        assert isinstance(response, Response)
        assert response.metadata["selector_result"].selections[0].index == 0  # type: ignore[index]
        news, manual, router = scope["news"], scope["manual"], scope["router"]
        assert isinstance(news, Engine) and isinstance(manual, Engine)
        assert response.source_nodes and response.metadata["citations"]  # type: ignore[index]
        for node in response.source_nodes:
            assert Path(node.node.metadata["path"]).parent.name == "corpus"
            assert exact(news, node.node)  # type: ignore[arg-type]
        routed = router.query("Which environment variable turns on login for the UI?")  # type: ignore[attr-defined]
        assert routed.metadata["selector_result"].selections[0].index == 1  # the manual
        assert all(exact(manual, n.node) for n in routed.source_nodes)
        printed = capsys.readouterr().out
        assert str(tmp_path / "corpus") in printed  # the retriever's hits were printed
    finally:
        for name in ("news", "manual"):
            engine = scope.get(name)
            if isinstance(engine, Engine):
                engine.close()
