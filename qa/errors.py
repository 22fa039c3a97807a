"""The one exception tree. Every message is fit to show a user as a single line.

Errors from Chroma, openai and the parsers are translated into these at the boundary
(Engine), so the CLI and UI only ever catch `QAError`.
"""

from __future__ import annotations


class QAError(Exception):
    """Base of everything corpus-qa raises on purpose. `exit_code` is what the CLI returns."""

    exit_code = 1


class InputError(QAError):
    """The user gave something unusable: an empty question, a missing path, a bad setting."""

    exit_code = 2


class IndexMismatchError(QAError):
    """The index on disk was built with other settings (model, chunking, loaders)."""


class IndexBusyError(QAError):
    """Another ingest holds the data directory."""


class StoreUnavailableError(QAError):
    """The vector store (a Chroma server) cannot be reached."""


class LLMError(QAError):
    """The OpenAI-compatible endpoint failed after retries (timeout, refused, 401, 429, 5xx)."""
