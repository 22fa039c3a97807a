"""Engine: the Python API. Wires settings, the index, retrieval and one answerer together.

Nothing heavy happens at construction: the store opens on first use and the model loads
on the first embedding, so `Engine(Settings())` is cheap. Every index, Chroma, parser or
LLM error is translated here into the one exception tree of qa.errors, so the answerers
are handed callables (retrieve, document texts, embed) that already speak it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import index
from index import DocumentInfo, IngestReport, Store
from qa import options
from qa.answerer import Answerer
from qa.endpoint import Endpoint
from qa.errors import IndexBusyError, IndexMismatchError, InputError, QAError, StoreUnavailableError
from qa.extractive import ExtractiveAnswerer
from qa.features import Evidence, gather
from qa.llm import LLMAnswerer, LLMOptions
from qa.questions import clean_question
from qa.retrieve import retrieve
from qa.settings import Settings, get_settings
from qa.texts import DocumentTexts
from qa.types import Answer, History, Passage, StreamEvent

if TYPE_CHECKING:
    from qa.interop import BundledEmbedding, EngineQueryEngine, EngineRetriever

log = logging.getLogger(__name__)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn index-level failures into user-facing QAErrors."""
    try:
        yield
    except QAError:
        raise
    except index.IndexMismatch as e:
        raise IndexMismatchError(str(e)) from e
    except index.StoreLocked as e:
        raise IndexBusyError(str(e)) from e
    except index.StoreUnavailable as e:
        raise StoreUnavailableError(str(e)) from e
    except index.EncoderUnavailable as e:
        raise InputError(str(e)) from e


class Engine:
    """Documents in (ingest, sources, remove), questions out (ask, stream), one answerer."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._store: Store | None = None
        self._open_lock = threading.Lock()
        self.answerer: Answerer = self._answerer()
        self._extractive = ExtractiveAnswerer(self.retrieve, self.document_texts, self.embed)

    def _answerer(self) -> Answerer:
        """The answerer of QA_LLM, chosen once: each is given only the parts it needs."""
        s, parts = self.settings, (self.retrieve, self.document_texts, self.embed)
        if s.llm == "openai":
            return LLMAnswerer(*parts, functools.partial(Endpoint, s), LLMOptions.of(s))
        return ExtractiveAnswerer(*parts)

    # ---- the index ------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        return options.fingerprint(self.settings)

    def limits(self) -> index.Limits:
        """What one file may cost to ingest; a refusal names the QA_* setting that raises it."""
        return options.limits(self.settings)

    def _open(self, *, verify: bool = True) -> Store:
        """The store of these settings (the one place a Store is made)."""
        s = self.settings
        with translated():
            return Store(
                s.data_dir,
                s.collection,
                self.fingerprint(),
                chroma_host=s.chroma_host,
                chroma_port=s.chroma_port,
                verify=verify,
            )

    @property
    def store(self) -> Store:
        with self._open_lock:
            if self._store is None:
                self._store = self._open()
            return self._store

    def ingest(
        self,
        paths: Iterable[str | Path],
        *,
        rebuild: bool = False,
        progress: index.Progress | None = None,
    ) -> IngestReport:
        """Add, update and remove documents so the index matches the given files and folders."""
        paths = list(paths)
        if not paths:
            raise InputError("give at least one file or folder to ingest")
        if rebuild:
            self._rebuild()
        with translated():
            return index.ingest(self.store, paths, options.ingest_options(self.settings), progress)

    def _rebuild(self) -> None:
        """Drop the old index, even one built with other settings, and start afresh."""
        with self._open_lock, translated():
            if self._store is not None:
                self._store.close()
            store = self._open(verify=False)
            with store.writer():
                store.reset()
            self._store = store

    def sources(self) -> list[DocumentInfo]:
        with translated():
            return self.store.documents()

    def remove(self, path: str | Path) -> int:
        """Delete a document's chunks everywhere. Returns how many chunks went."""
        with translated():
            info = self._find(path)
            with self.store.writer():
                return self.store.remove_document(info.doc_id)

    def document_text(self, path: str | Path) -> str:
        """The loader's text of an ingested document: what citation offsets index into."""
        with translated():
            found = self.store.document_text(self._find(path).path)
        if found is None:
            raise InputError(f"{path} is not in the index")
        return found[0]

    def document_texts(self) -> DocumentTexts:
        """A reader of document texts and pages that reads each document once: make one per
        question, rendered answer or eval run (a path not in the index reads as None)."""
        return DocumentTexts(self._read_text)

    def _read_text(self, path: str) -> tuple[str, list[index.PageSpan]] | None:
        with translated():
            found = self.store.document_text(path)
            if found is None:  # not a path as ingested: the path or name as a user gives it
                with contextlib.suppress(InputError):
                    found = self.store.document_text(self._find(path).path)
        return found

    def _find(self, path: str | Path) -> DocumentInfo:
        docs = self.store.documents()
        want = str(Path(path).expanduser().resolve())
        for d in docs:
            if d.path in (want, str(path)):
                return d
        by_name = [d for d in docs if d.source == Path(path).name]
        if len(by_name) == 1:
            return by_name[0]
        raise InputError(f"{path} is not in the index (see `qa sources`)")

    def status(self) -> dict[str, Any]:
        s = self.settings
        with translated():
            docs = self.store.documents()
            chunks = self.store.count_chunks()
        return {
            "documents": len(docs),
            "chunks": chunks,
            "store": s.store_mode,
            "llm": s.llm,
            "llm_model": s.llm_model if s.llm == "openai" else None,
            "embed_model": index.MODEL_NAME,
            "encoder": self.encoder_status(),
            "collection": s.collection,
            "data_dir": str(s.data_dir),
        }

    def encoder_status(self) -> dict[str, Any]:
        """What embeds at ingest and for questions; never times anything (that is ingest's)."""
        from index import tuning

        s = self.settings
        try:
            choice = tuning.choose_encoder(
                s.embed_backend, s.embed_precision, s.embed_batch_size, measure=False
            )
            ingest: dict[str, Any] = choice.to_dict() if choice else {"source": "not timed yet"}
        except tuning.EncoderUnavailable as e:
            ingest = {"error": str(e)}
        return {
            "ingest": ingest,
            "query": {"backend": s.query_backend, "precision": "fp32"},
            "bf16_units": tuning.bf16_units(),
        }

    # ---- questions ------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        """The question cleaned (qa.questions); InputError when empty or too long."""
        return clean_question(question, self.settings.max_question_chars)

    def retrieve(self, query: str, top_k: int | None = None) -> list[Passage]:
        with translated():
            return retrieve(
                self.store,
                query,
                top_k or self.settings.top_k,
                backend=self.settings.query_backend,
            )

    def ask(
        self, question: str, history: History | None = None, *, top_k: int | None = None
    ) -> Answer:
        final: Answer | None = None
        for event in self.stream(question, history, top_k=top_k):
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def stream(
        self, question: str, history: History | None = None, *, top_k: int | None = None
    ) -> Iterator[StreamEvent]:
        """Yield text deltas as the answer forms, then the final Answer with its citations."""
        q = self.check_question(question)
        yield from self.answerer.stream(q, history or [], top_k or self.settings.top_k)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Vectors of texts with this engine's query encoder (normalised: dot = cosine)."""
        with translated():
            return index.embed_texts(texts, backend=self.settings.query_backend)

    def extract(self, question: str, passages: list[Passage], *, search_query: str = "") -> Answer:
        """The offline answer from already retrieved passages (also the LLM fallback)."""
        return self._extractive.answer(question, passages, search_query=search_query)

    def evidence(self, question: str, passages: list[Passage]) -> Evidence:
        """The units, candidates and features the offline selector reads (for training it)."""
        q = self.check_question(question)
        return gather(q, passages, self.embed, self.document_texts().text)

    # ---- llama-index ----------------------------------------------------------------------
    def as_retriever(self, similarity_top_k: int | None = None) -> EngineRetriever:
        """A llama-index BaseRetriever over this engine's hybrid retrieval (qa.interop)."""
        from qa.interop import EngineRetriever

        return EngineRetriever(self, similarity_top_k)

    def as_query_engine(
        self, streaming: bool = False, similarity_top_k: int | None = None
    ) -> EngineQueryEngine:
        """A llama-index BaseQueryEngine of cited answers (qa.interop)."""
        from qa.interop import EngineQueryEngine

        return EngineQueryEngine(self, streaming=streaming, similarity_top_k=similarity_top_k)

    def as_embedding(self) -> BundledEmbedding:
        """The bundled embedding model as a llama-index BaseEmbedding (offline)."""
        from qa.interop import BundledEmbedding

        return BundledEmbedding(self)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
