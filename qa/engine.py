"""Engine: the Python API. Wires settings, the index, retrieval and an answerer together.

Nothing heavy happens at construction: the store opens on first use and the model loads
on the first embedding, so `Engine(Settings())` is cheap. Every index, Chroma, parser or
LLM error is translated here into the one exception tree of qa.errors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import index
from index import DocumentInfo, IngestReport, Store
from qa import extractive
from qa.errors import IndexBusyError, IndexMismatchError, InputError, QAError, StoreUnavailableError
from qa.features import Evidence, gather
from qa.followup import resolve
from qa.retrieve import retrieve
from qa.settings import Settings, get_settings
from qa.types import Answer, Passage

if TYPE_CHECKING:
    from qa.interop import BundledEmbedding, EngineQueryEngine, EngineRetriever

log = logging.getLogger(__name__)

History = list[dict[str, str]]  # [{"role": "user"|"assistant", "content": str}, ...]
StreamEvent = str | Answer  # text deltas, then the final Answer (with its citations)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._store: Store | None = None
        self._open_lock = threading.Lock()

    # ---- the index ------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        s = self.settings
        return {
            "embed_model": index.MODEL_NAME,
            "dimension": index.DIMENSION,
            "chunk_size": s.chunk_size,
            "chunk_overlap": s.chunk_overlap,
            "loader_version": index.LOADER_VERSION,
        }

    def limits(self) -> index.Limits:
        """What one file may cost to ingest; a refusal names the QA_* setting that raises it."""
        names = [f.name for f in dataclasses.fields(index.Limits) if f.name != "env_prefix"]
        prefix = str(self.settings.model_config.get("env_prefix", ""))
        return index.Limits(**{n: getattr(self.settings, n) for n in names}, env_prefix=prefix)

    @property
    def store(self) -> Store:
        with self._open_lock:
            if self._store is None:
                s = self.settings
                with translated():
                    self._store = Store(
                        s.data_dir,
                        s.collection,
                        self.fingerprint(),
                        chroma_host=s.chroma_host,
                        chroma_port=s.chroma_port,
                    )
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
        s = self.settings
        options = index.IngestOptions(
            chunk_size=s.chunk_size,
            chunk_overlap=s.chunk_overlap,
            embed_batch_size=s.embed_batch_size,
            embed_backend=s.embed_backend,
            embed_precision=s.embed_precision,
            limits=self.limits(),
        )
        with translated():
            return index.ingest(self.store, paths, options, progress)

    def _rebuild(self) -> None:
        """Drop the old index, even one built with other settings, and start afresh."""
        s = self.settings
        with self._open_lock, translated():
            if self._store is not None:
                self._store.close()
            store = Store(
                s.data_dir,
                s.collection,
                self.fingerprint(),
                chroma_host=s.chroma_host,
                chroma_port=s.chroma_port,
                verify=False,
            )
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
        if not isinstance(question, str):
            raise InputError("the question must be text")
        limit = self.settings.max_question_chars
        if len(question) > 20 * limit + 1000:  # refuse a flood before even scanning it
            raise InputError(
                f"the question is {len(question)} characters long; the limit is {limit}"
            )
        q = " ".join(_CONTROL.sub(" ", _valid_unicode(question)).split())
        if not q:
            raise InputError("the question is empty")
        if len(q) > limit:
            raise InputError(f"the question is {len(q)} characters long; the limit is {limit}")
        return q

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
        t0 = time.perf_counter()
        q = self.check_question(question)
        k = top_k or self.settings.top_k
        if self.settings.llm == "openai":
            from qa import llm

            yield from llm.stream_answer(self, q, history or [], k, started=t0)
            return
        search = condense(q, history or [])
        passages = self.retrieve(search, k)
        t1 = time.perf_counter()
        answer = self.extract(q, passages, search_query=search)
        answer.timings_ms.update(retrieve=(t1 - t0) * 1000, total=(time.perf_counter() - t0) * 1000)
        yield from _words(answer.text)
        yield answer

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Vectors of texts with this engine's encoder (normalised: dot = cosine)."""
        return self._embed(texts)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        """Vectors of sentences, with this engine's encoder (scoring and citing answers)."""
        return index.embed_texts(texts, backend=self.settings.query_backend)

    def extract(self, question: str, passages: list[Passage], *, search_query: str = "") -> Answer:
        """The offline answer from already retrieved passages (also the LLM fallback)."""
        t0 = time.perf_counter()
        docs: dict[str, tuple[str, list[index.PageSpan]] | None] = {}

        def doc(path: str) -> tuple[str, list[index.PageSpan]] | None:
            if path not in docs:
                docs[path] = self.store.document_text(path)
            return docs[path]

        def page_of(path: str, offset: int) -> int | None:
            found = doc(path)
            if not found:
                return None
            return next((p.page for p in found[1] if p.start <= offset < p.end), None)

        with translated():
            result = extractive.answer(
                search_query or question,
                passages,
                self._embed,
                lambda path: (doc(path) or (None,))[0],
                page_of=page_of,
            )
        return Answer(
            question=question,
            text=result.text,
            answered=result.answered,
            citations=result.citations,
            short=result.short,
            refusal_reason=result.reason,
            mode="extractive",
            timings_ms={"answer": (time.perf_counter() - t0) * 1000},
            retrieved=passages,
            search_query=search_query or question,
        )

    def evidence(self, question: str, passages: list[Passage]) -> Evidence:
        """The units, candidates and features the offline selector reads (for training it)."""
        q = self.check_question(question)
        with translated():
            return gather(
                q, passages, self._embed, lambda p: (self.store.document_text(p) or (None,))[0]
            )

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


def _valid_unicode(text: str) -> str:
    """Lone surrogates (argv bytes that were not UTF-8, e.g. from a Latin-1 terminal) break
    the tokenizer and SQLite: read such bytes as cp1252, replace any other surrogate."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def condense(question: str, history: History) -> str:
    """Offline follow-up handling: the question made standalone against the conversation
    (its named entities and the previous answer's cited text; see qa.followup)."""
    return resolve(question, history)


def _words(text: str) -> Iterator[str]:
    for m in re.finditer(r"\S+\s*", text):
        yield m.group()
