"""Token-aware sentence chunking that keeps exact character offsets into the document."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from index.environment import set_env_defaults
from index.loaders import LoadedDocument


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    idx: int
    start: int
    end: int
    page: int | None
    text: str


def doc_id_for(path: str) -> str:
    """Stable id of a document by its resolved path: the same file keeps its id across runs."""
    return hashlib.sha1(path.encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=1)
def token_encoder() -> Callable[[str], list[int]]:
    """cl100k_base from the cache llama-index-core ships: never downloads."""
    set_env_defaults()  # TIKTOKEN_CACHE_DIR
    import tiktoken

    return tiktoken.get_encoding("cl100k_base").encode


@lru_cache(maxsize=4)
def _splitter(chunk_size: int, chunk_overlap: int):  # type: ignore[no-untyped-def]
    from llama_index.core.node_parser import SentenceSplitter

    return SentenceSplitter(
        chunk_size=chunk_size,
        chunk_overlap=min(chunk_overlap, chunk_size // 2),
        tokenizer=token_encoder(),
        include_metadata=False,
        include_prev_next_rel=False,
    )


def prepare(chunk_size: int, chunk_overlap: int, *, sentences: bool = True) -> None:
    """Build the splitter now (imports llama-index and the tokenizer), so that a parse worker
    forked afterwards inherits it instead of importing it again. With `sentences`, also split
    a paragraph longer than a chunk once: that loads the sentence tokenizer the splitter
    needs only for such paragraphs (NLTK, which pulls in scikit-learn: seconds, ~100 MB)."""
    splitter = _splitter(chunk_size, chunk_overlap)
    if sentences:
        splitter.split_text("Warm up the splitter. " * 2 * chunk_size)


def chunk_document(
    doc: LoadedDocument, doc_id: str, *, chunk_size: int, chunk_overlap: int
) -> list[Chunk]:
    from llama_index.core import Document

    nodes = _splitter(chunk_size, chunk_overlap).get_nodes_from_documents(
        [Document(text=doc.text, id_=doc_id)]
    )
    chunks: list[Chunk] = []
    cursor = 0
    for node in nodes:
        content = node.get_content()
        start = node.start_char_idx
        if start is None or doc.text[start : start + len(content)] != content:
            # The splitter lost the offset (rare, e.g. repeated text): find it ourselves.
            found = doc.text.find(content, cursor)
            if found < 0:
                found = doc.text.find(content)
            if found < 0:
                continue  # a normalised chunk that is not a span: never cite it
            start = found
        end = start + len(content)
        cursor = start + 1
        idx = len(chunks)
        digest = hashlib.sha1(content.encode("utf-8")).hexdigest()[:10]
        chunks.append(
            Chunk(f"{doc_id}-{idx}-{digest}", doc_id, idx, start, end, doc.page_at(start), content)
        )
    return chunks


def embed_text(chunk: Chunk, title: str) -> str:
    """What the model sees: the title gives context to chunks that never name their subject."""
    if title and not chunk.text.startswith(title):
        return f"{title}\n{chunk.text}"
    return chunk.text
