"""Settings from QA_* environment variables (and .env), built on first use."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.support import SUPPORT_THRESHOLD


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="QA_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Path(".qa-data")
    chroma_host: str | None = None
    chroma_port: int | None = None
    collection: str = "corpus"

    llm: Literal["extractive", "openai"] = "extractive"
    llm_model: str | None = None
    # Secrets are SecretStr: reprs, dumps, logs and tracebacks show "**********".
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "QA_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "QA_OPENAI_BASE_URL")
    )
    llm_timeout: float = Field(default=60.0, gt=0)  # seconds per request (and between tokens)
    llm_retries: int = Field(default=2, ge=0, le=10)  # retries after the first attempt
    llm_backoff: float = Field(default=0.5, ge=0)  # seconds before the first retry; doubles
    llm_max_tokens: int = Field(default=200, ge=16)  # a short answer: three sentences or so
    llm_temperature: float = Field(default=0.0, ge=0, le=2)
    llm_context_tokens: int = Field(default=8192, ge=512)  # the model's context window
    # a model's claim is shown only when one passage sentence supports it this well (qa.support)
    llm_support_threshold: float = Field(default=SUPPORT_THRESHOLD, ge=0, le=1)

    top_k: int = Field(default=5, ge=1, le=50)
    chunk_size: int = Field(default=200, ge=32, le=2048)
    chunk_overlap: int = Field(default=30, ge=0)
    # Bulk ingest's encoder. "auto" (the default) times each runtime, precision and batch size
    # on this machine once (index.tuning) and keeps the fastest; bf16 only where the CPU has
    # bf16 units and its vectors agree with fp32 (cosine >= 0.9999), so the index is shared.
    # "onnx": ONNX Runtime over a local export of the fp32 weights; "torch": transformers.
    # Questions always embed with ONNX fp32 unless the backend is set to torch.
    embed_batch_size: int | None = Field(default=None, ge=1)
    embed_backend: Literal["auto", "onnx", "torch"] = "auto"
    embed_precision: Literal["auto", "fp32", "bf16"] = "auto"

    max_file_mb: float = 50.0
    max_upload_mb: float = 50.0
    # What one file may cost once opened (index/limits.py): a 91 KB DOCX can hold 20 MB of text.
    max_text_mb: float = Field(default=20.0, gt=0)  # extracted text, in 2**20 characters
    max_chunks: int = Field(default=30_000, ge=1)  # chunks of one document
    max_unzipped_mb: float = Field(default=200.0, gt=0)  # a DOCX's parts, uncompressed
    max_zip_ratio: float = Field(default=100.0, gt=1)  # any one part's compression ratio
    max_html_depth: int = Field(default=512, ge=16)  # nested elements (browsers flatten past 512)
    parse_timeout: float = Field(default=120.0, gt=0)  # seconds to read and chunk one file
    parse_memory_mb: float = Field(default=768.0, ge=64)  # what a parse may add to its worker
    max_question_chars: int = 2000
    ui_auth: SecretStr | None = None

    @field_validator("chroma_host", "llm_model", "openai_api_key", "openai_base_url", "ui_auth")
    @classmethod
    def _blank_is_unset(cls, v: str | SecretStr | None) -> str | SecretStr | None:
        return v or None

    @property
    def query_backend(self) -> Literal["onnx", "torch"]:
        """Questions keep the fast-import path: a cold `qa ask` never imports torch."""
        return "torch" if self.embed_backend == "torch" else "onnx"

    @property
    def store_mode(self) -> Literal["embedded", "server"]:
        return "server" if self.chroma_host else "embedded"


def reveal(secret: SecretStr | None) -> str | None:
    """The plain value of a secret setting, for the one call that needs it."""
    return secret.get_secret_value() if secret else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
