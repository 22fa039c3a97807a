"""llama-index's HuggingFaceEmbedding of the bundled weights: the reference our encoder is
checked against. Test-only (the `dev` extra installs llama-index-embeddings-huggingface)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from index.embeddings import MAX_TOKENS, model_path


@lru_cache(maxsize=2)
def get_embed_model(batch_size: int = 64) -> Any:
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
