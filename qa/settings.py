"""Settings from QA_* environment variables (and .env), built on first use."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.embeddings import BATCH_SIZE
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
    openai_api_key: str | None = Field(
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
    embed_batch_size: int = Field(default=BATCH_SIZE, ge=1)
    # "onnx": ONNX Runtime over a local export of the same fp32 weights (fast to load);
    # "torch": transformers. Same vectors (cosine > 0.9999), so the index is shared.
    embed_backend: Literal["onnx", "torch"] = "onnx"

    max_file_mb: float = 50.0
    max_upload_mb: float = 50.0
    max_question_chars: int = 2000
    ui_auth: str | None = None

    @field_validator("chroma_host", "llm_model", "openai_api_key", "openai_base_url", "ui_auth")
    @classmethod
    def _blank_is_unset(cls, v: str | None) -> str | None:
        return v or None

    @property
    def store_mode(self) -> Literal["embedded", "server"]:
        return "server" if self.chroma_host else "embedded"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
