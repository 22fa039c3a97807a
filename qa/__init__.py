"""corpus-qa: ask a folder of documents, get short answers with checkable citations.

from qa import Engine, Settings
engine = Engine(Settings())
engine.ingest(["corpus/"])
answer = engine.ask("Who was extradited?")
"""

from index import SUPPORTED, DocumentInfo, FileReport, IngestReport
from qa.engine import Engine, History, StreamEvent, condense
from qa.errors import (
    IndexBusyError,
    IndexMismatchError,
    InputError,
    LLMError,
    QAError,
    StoreUnavailableError,
)
from qa.settings import Settings, get_settings
from qa.types import REFUSAL_TEXT, Answer, Citation, Passage

__all__ = [
    "REFUSAL_TEXT",
    "SUPPORTED",
    "Answer",
    "Citation",
    "DocumentInfo",
    "Engine",
    "FileReport",
    "History",
    "IndexBusyError",
    "IndexMismatchError",
    "IngestReport",
    "InputError",
    "LLMError",
    "Passage",
    "QAError",
    "Settings",
    "StoreUnavailableError",
    "StreamEvent",
    "condense",
    "get_settings",
]
