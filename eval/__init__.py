"""The eval harness: gold question sets, quality metrics, and a runner over the qa API.

Import names from the modules (`from eval.metrics import f1`), never `import eval`,
which would shadow the builtin. Importing this package loads no model and no engine.
"""

from eval.formats import GoldFormatError, GoldItem, load_gold, read_text_documents
from eval.gates import check_gates, parse_gates
from eval.metrics import METRIC_NAMES, contains_answer, normalize, summarize
from eval.report import to_json, to_markdown
from eval.runner import EvalResult, run_eval

__all__ = [
    "METRIC_NAMES",
    "EvalResult",
    "GoldFormatError",
    "GoldItem",
    "check_gates",
    "contains_answer",
    "load_gold",
    "normalize",
    "parse_gates",
    "read_text_documents",
    "run_eval",
    "summarize",
    "to_json",
    "to_markdown",
]
