"""llama-index faces of an Engine: a BaseRetriever, a BaseQueryEngine and a BaseEmbedding.

They wrap the engine rather than the Chroma collection, because the collection alone holds
vectors and ids: retrieval stays hybrid (dense + BM25, fused), node texts are exact spans of
the loader's text, and answers keep their checkable citations. Imported only when
`Engine.as_retriever()` / `as_query_engine()` / `as_embedding()` is called, so `import qa`
never pays for llama-index.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Iterator
from typing import Any, Protocol

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.response.schema import RESPONSE_TYPE, Response, StreamingResponse
from llama_index.core.callbacks import CallbackManager
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import PrivateAttr

from qa.errors import InputError
from qa.settings import Settings
from qa.types import Answer, Citation, Passage, StreamEvent


class Engine(Protocol):
    """What these faces use of qa.engine.Engine (named here so interop never imports it)."""

    settings: Settings

    def check_question(self, question: str) -> str: ...
    def retrieve(self, query: str, top_k: int | None = None) -> list[Passage]: ...
    def ask(self, question: str, *, top_k: int | None = None) -> Answer: ...
    def stream(self, question: str, *, top_k: int | None = None) -> Iterator[StreamEvent]: ...
    def embed(self, texts: list[str]) -> list[list[float]]: ...


MAX_TOP_K = 50  # as QA_TOP_K and `qa ask --top-k`

# Ranks and scores help a reranker or a reader, not an LLM reading the node's text.
_HIDDEN_FROM_LLM = ["chunk_id", "dense_rank", "bm25_rank", "dense_score", "bm25_score"]


def passage_node(p: Passage) -> NodeWithScore:
    """A retrieved chunk as llama-index sees one; `text == document_text[start:end]`."""
    node = TextNode(
        id_=p.chunk_id,
        text=p.text,
        start_char_idx=p.start,
        end_char_idx=p.end,
        metadata={
            "path": p.path,
            "source": p.source,
            "page": p.page,
            "chunk_id": p.chunk_id,
            "dense_rank": p.dense_rank,
            "bm25_rank": p.bm25_rank,
            "dense_score": p.dense_score,
            "bm25_score": p.bm25_score,
        },
        excluded_llm_metadata_keys=_HIDDEN_FROM_LLM,
        excluded_embed_metadata_keys=_HIDDEN_FROM_LLM,
    )
    return NodeWithScore(node=node, score=p.score)


def citation_node(c: Citation) -> NodeWithScore:
    """A cited span as a source node: its text is the quote, its offsets the citation's."""
    node = TextNode(
        id_=f"{c.path}:{c.start}-{c.end}",
        text=c.quote,
        start_char_idx=c.start,
        end_char_idx=c.end,
        metadata={"path": c.path, "source": c.source, "page": c.page, "n": c.n},
        excluded_llm_metadata_keys=["n"],
        excluded_embed_metadata_keys=["n"],
    )
    return NodeWithScore(node=node, score=c.score)


def checked_top_k(k: int | None) -> int | None:
    if k is not None and not (isinstance(k, int) and 1 <= k <= MAX_TOP_K):
        raise InputError(f"similarity_top_k must be a whole number, 1 to {MAX_TOP_K}; got {k!r}")
    return k


def answer_metadata(answer: Answer) -> dict[str, Any]:
    return {
        "citations": list(answer.citations),
        "answered": answer.answered,
        "mode": answer.mode,
        "short": getattr(answer, "short", None),  # the answer phrase, when the engine gives one
        "answer": answer,
    }


class EngineRetriever(BaseRetriever):
    """The engine's hybrid retrieval (dense + BM25, reciprocal-rank fused) as NodeWithScores."""

    def __init__(
        self,
        engine: Engine,
        similarity_top_k: int | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        self._engine = engine
        self.similarity_top_k = checked_top_k(similarity_top_k) or engine.settings.top_k
        super().__init__(callback_manager=callback_manager)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = self._engine.check_question(query_bundle.query_str)
        return [passage_node(p) for p in self._engine.retrieve(query, self.similarity_top_k)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)


class EngineQueryEngine(BaseQueryEngine):
    """Cited answers: `source_nodes` are the cited spans, `metadata["citations"]` the Citations.

    With `streaming=True`, `query` returns a StreamingResponse whose `response_gen` yields the
    answer's text as it forms; its `source_nodes` and `metadata` fill in when the stream ends.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        streaming: bool = False,
        similarity_top_k: int | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        self._engine = engine
        self.streaming = streaming
        self.similarity_top_k = checked_top_k(similarity_top_k)
        super().__init__(callback_manager)

    def _get_prompt_modules(self) -> PromptMixinType:
        return {}

    def retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return EngineRetriever(self._engine, self.similarity_top_k).retrieve(query_bundle)

    def _query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        question = self._engine.check_question(query_bundle.query_str)  # bad input fails here
        if self.streaming:
            return self._stream(question)
        answer = self._engine.ask(question, top_k=self.similarity_top_k)
        return Response(
            answer.text,
            source_nodes=[citation_node(c) for c in answer.citations],
            metadata=answer_metadata(answer),
        )

    def _stream(self, question: str) -> StreamingResponse:
        sources: list[NodeWithScore] = []
        metadata: dict[str, Any] = {}

        def tokens() -> Generator[str, None, None]:
            for event in self._engine.stream(question, top_k=self.similarity_top_k):
                if isinstance(event, Answer):
                    sources.extend(citation_node(c) for c in event.citations)
                    metadata.update(answer_metadata(event))
                else:
                    yield event

        return StreamingResponse(tokens(), source_nodes=sources, metadata=metadata)

    async def _aquery(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        return await asyncio.to_thread(self._query, query_bundle)


class BundledEmbedding(BaseEmbedding):
    """The bundled all-MiniLM-L6-v2 (offline) with the engine's encoder settings: the very
    vectors the index holds, for llama-index parts that need an embedding model."""

    _engine: Engine = PrivateAttr()

    def __init__(self, engine: Engine, **kwargs: Any) -> None:
        import index

        kwargs.setdefault("model_name", index.MODEL_NAME)
        kwargs.setdefault("embed_batch_size", engine.settings.embed_batch_size or index.BATCH_SIZE)
        super().__init__(**kwargs)
        self._engine = engine

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._engine.embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._engine.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._engine.embed(list(texts))
