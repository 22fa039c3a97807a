"""corpus-qa: ask a folder of documents, get short answers with checkable citations.

from qa import Engine, Settings
engine = Engine(Settings())
engine.ingest(["corpus/"])
answer = engine.ask("Who was extradited?")
"""

from index import SUPPORTED, DocumentInfo, FileReport, IngestReport, set_env_defaults
from qa.answerer import Answerer
from qa.decide import Decision, decide
from qa.decide import choose as choose_answer
from qa.engine import Engine
from qa.errors import (
    IndexBusyError,
    IndexMismatchError,
    InputError,
    LLMError,
    QAError,
    StoreUnavailableError,
)
from qa.features import CALIBRATION_FEATURES, CANDIDATE_FEATURES, UNIT_FEATURES, Evidence
from qa.features import gather as gather_evidence
from qa.profile import QuestionProfile
from qa.questions import condense
from qa.selector import WEIGHTS as SELECTOR_WEIGHTS
from qa.selector import LogisticModel, Selector, load_selector
from qa.settings import Settings, get_settings
from qa.texts import DocumentText, DocumentTexts
from qa.types import REFUSAL_TEXT, Answer, Citation, History, Passage, StreamEvent, Turn

__all__ = [
    "CALIBRATION_FEATURES",
    "CANDIDATE_FEATURES",
    "REFUSAL_TEXT",
    "SELECTOR_WEIGHTS",
    "SUPPORTED",
    "UNIT_FEATURES",
    "Answer",
    "Answerer",
    "Citation",
    "Decision",
    "DocumentInfo",
    "DocumentText",
    "DocumentTexts",
    "Engine",
    "Evidence",
    "FileReport",
    "History",
    "IndexBusyError",
    "IndexMismatchError",
    "IngestReport",
    "InputError",
    "LLMError",
    "LogisticModel",
    "Passage",
    "QAError",
    "QuestionProfile",
    "Selector",
    "Settings",
    "StoreUnavailableError",
    "StreamEvent",
    "Turn",
    "choose_answer",
    "condense",
    "decide",
    "gather_evidence",
    "get_settings",
    "load_selector",
    "set_env_defaults",
]
