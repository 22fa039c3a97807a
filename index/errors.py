"""Every exception index/ raises, in one place; qa.engine translates each into qa.errors."""

from __future__ import annotations


class LoadError(Exception):
    """A file that cannot be turned into text; the message says why, in one line."""


class LimitError(LoadError):
    """A file over one of the limits: the message names the limit (and its setting)."""


class PdfError(Exception):
    """Why a PDF cannot be read, worded for a user (the loader turns it into LoadError)."""


class IndexMismatch(Exception):
    """The index was built differently from what this process would build."""


class StoreLocked(Exception):
    """Another process is writing to this index."""


class StoreUnavailable(Exception):
    """The Chroma server cannot be reached."""


class EncoderUnavailable(ValueError):
    """A runtime/precision that settings ask for cannot run correctly on this machine."""
