"""The environment defaults every part relies on, set in one place.

Libraries read these variables when they load (huggingface_hub, transformers, tokenizers,
tiktoken, gradio), so `set_defaults()` runs before each of them is imported. A value the
user set wins: only unset variables are filled in.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

DEFAULTS = {
    "HF_HUB_OFFLINE": "1",  # nothing may download at run time
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",  # its thread pool deadlocks after a fork
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",  # the UI calls no one home
    "ANONYMIZED_TELEMETRY": "False",  # nor does Chroma (a `chroma run` server reads it too)
}


def tiktoken_cache() -> str:
    """The cl100k_base cache llama-index-core ships, found without importing llama-index."""
    spec = importlib.util.find_spec("llama_index.core")
    roots = list(spec.submodule_search_locations or []) if spec else []
    if not roots:
        raise ModuleNotFoundError("llama-index-core is not installed")
    return str(Path(roots[0]) / "_static" / "tiktoken_cache")


def set_env_defaults() -> None:
    """Fill in the unset variables of DEFAULTS and TIKTOKEN_CACHE_DIR."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        os.environ["TIKTOKEN_CACHE_DIR"] = tiktoken_cache()
