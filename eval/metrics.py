"""Quality metrics for corpus-qa, as pure functions of plain data (no engine import).

Everything here is computed from a *scored row*: a mapping with the gold fields
(`type`, `answers`, `sources`) and what the engine did (`answer`, `answered`,
`retrieved` source names in rank order, `citations` each with `source` and `valid`,
`latency_ms`). `score_row` turns one into per-question scores; `summarize` aggregates
them into the metric names fixed by DESIGN.md.

Conventions (chosen so a metric never claims more than was measured):
- Retrieval (`hit@k`, `mrr`) and answer metrics are over answerable questions; questions
  whose gold `sources` is empty are left out of retrieval metrics (nothing to hit).
- A refusal on an answerable question scores 0 for answer_accuracy, exact_match and f1.
- `citation_validity` is over every citation of the run; `citation_precision` over the
  citations of questions that have gold sources (an unanswerable question has none, and
  answering it at all is already counted by `refusal_accuracy`).
- A metric with nothing to measure is None, never 0 or 1: no citations at all gives
  `citation_validity` None; no unanswerable questions gives `refusal_accuracy` None.
"""

from __future__ import annotations

import math
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

UNANSWERABLE = "unanswerable"
HIT_KS = (1, 3, 5)

#: The metric names of DESIGN.md, in report order.
METRIC_NAMES: tuple[str, ...] = (
    "hit@1",
    "hit@3",
    "hit@5",
    "mrr",
    "answer_accuracy",
    "exact_match",
    "f1",
    "citation_validity",
    "citation_precision",
    "refusal_accuracy",
    "false_refusal_rate",
    "answer_chars_median",
    "latency_ms_p50",
    "latency_ms_p95",
)
COUNT_NAMES: tuple[str, ...] = ("n", "n_answerable", "n_unanswerable", "n_citations")
#: Short-answer figures over answered factoid questions with gold answers: the share that
#: has an `Answer.short`, and exact match / F1 of those short answers.
SHORT_METRICS: tuple[str, ...] = ("short_rate", "short_exact_match", "short_f1")
#: Checks of what an answer shows (issue 13), counted over the run: answered claims without
#: a citation that supports them, answers with no citation at all, answers echoing a prompt.
CLAIM_METRIC_NAMES: tuple[str, ...] = ("unsupported_claims", "uncited_answers", "prompt_echoes")
#: Metrics where a smaller figure is the better one (for deltas and `--max` gates).
LOWER_IS_BETTER = frozenset(
    {"false_refusal_rate", "latency_ms_p50", "latency_ms_p95", *CLAIM_METRIC_NAMES}
)

FAILURE_KINDS: tuple[str, ...] = (
    "invalid citation",
    "missed refusal",
    "retrieval miss",
    "false refusal",
    "wrong sentence",
)

_MARKER = re.compile(r"\[\d+\]")
_ARTICLES = frozenset({"a", "an", "the"})


def normalize(text: str) -> str:
    """NFKC, lower case, punctuation to spaces, whitespace collapsed (DESIGN.md gold rule).

    Punctuation becomes a space rather than vanishing so that "Dr.Ramirez" and
    "U.S.courts" still split into words, the same way on both sides of a comparison.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(ch).startswith(("P", "S")) else ch for ch in text)
    return " ".join(text.split())


def strip_citation_markers(text: str) -> str:
    """Drop `[n]` markers so they neither match nor dilute a gold answer."""
    return _MARKER.sub(" ", text)


def contains_answer(prediction: str, answers: Iterable[str]) -> bool:
    """True when any gold answer occurs in the prediction as whole words, after normalize.

    Whole words, so that gold "29" is not found in "1929".
    """
    text = f" {normalize(strip_citation_markers(prediction))} "
    return any((norm := normalize(answer)) and f" {norm} " in text for answer in answers)


def _squad_tokens(text: str) -> list[str]:
    """SQuAD's answer normalisation on top of ours: articles dropped."""
    return [t for t in normalize(strip_citation_markers(text)).split() if t not in _ARTICLES]


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the prediction equals some gold answer token for token, else 0.0."""
    pred = _squad_tokens(prediction)
    return float(any(pred == _squad_tokens(a) for a in answers))


def _token_f1(pred: list[str], gold: list[str]) -> float:
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD token F1, the best over the gold answers (0.0 when there are none)."""
    pred = _squad_tokens(prediction)
    return max((_token_f1(pred, _squad_tokens(a)) for a in answers), default=0.0)


def dedupe(sources: Iterable[str]) -> list[str]:
    """Source names in first-seen order: the document-level ranking of a passage list."""
    return list(dict.fromkeys(sources))


def hit_at_k(retrieved: Sequence[str], gold: Iterable[str], k: int) -> float | None:
    """1.0 if a gold source is among the first k distinct retrieved sources; None if no gold."""
    gold_set = set(gold)
    if not gold_set:
        return None
    return float(any(s in gold_set for s in dedupe(retrieved)[:k]))


def reciprocal_rank(retrieved: Sequence[str], gold: Iterable[str]) -> float | None:
    """1/rank of the first gold source among distinct retrieved sources (0.0 if absent)."""
    gold_set = set(gold)
    if not gold_set:
        return None
    for rank, source in enumerate(dedupe(retrieved), start=1):
        if source in gold_set:
            return 1.0 / rank
    return 0.0


def citation_valid(quote: str, document_text: str, start: int, end: int) -> bool:
    """The DESIGN invariant `quote == document_text[start:end]`, with sane, non-empty bounds."""
    if not quote or not (0 <= start < end <= len(document_text)):
        return False
    return document_text[start:end] == quote


_CLAIM_END = re.compile(r"(?<=[.!?])((?:\s*\[\d+\])*)\s+(?=\S)|\n+")
_ECHO = re.compile(r"<<<|>>>|\bEND PASSAGE\b|\bPASSAGE \d+:|cite them as \[n\]", re.IGNORECASE)
_FUNCTION_WORDS = frozenset(
    "a an the of in on at to for by with from and or but as is are was were be been has have "
    "had it its this that these those he she they his her their who which what when where".split()
)


def answer_claims(text: str) -> list[tuple[str, list[int]]]:
    """An answer's sentences, each with the citations that vouch for it: those written in or
    right after it, else those of the next cited sentence (a quoted sentence may hold "U.S."
    or a quotation that reads as a sentence end); none after the last citation."""
    claims: list[tuple[str, list[int]]] = []
    parts = _CLAIM_END.split(text)
    for i in range(0, len(parts), 2):
        part = parts[i] + (parts[i + 1] or "" if i + 1 < len(parts) else "")
        cited = [int(n) for n in re.findall(r"\[(\d+)\]", part)]
        if re.search(r"\w", _MARKER.sub("", part)):
            claims.append((part.strip(), cited))
        elif claims:  # markers alone: they belong to the sentence before
            claims[-1][1].extend(cited)
    following: list[int] = []
    for _claim, cited in reversed(claims):
        if cited:
            following = list(cited)
        else:
            cited.extend(following)
    return claims


def _claim_words(text: str) -> set[str]:
    words = normalize(strip_citation_markers(text)).split()
    words = [re.sub(r"^(\d+)(?:st|nd|rd|th)$", r"\1", w) for w in words]  # 18th is 18
    return {w[:5] for w in words if w not in _FUNCTION_WORDS}


def claim_supported(claim: str, quotes: Sequence[str]) -> bool:
    """A cited claim whose quotes hold every number and at least half its content words
    (compared on their first five letters, a crude stemmer that needs no dictionary)."""
    wanted = _claim_words(claim)
    have = _claim_words(" ".join(quotes))
    numbers = {w for w in wanted if w[:1].isdigit()}
    return bool(quotes) and numbers <= have and len(wanted & have) >= 0.5 * len(wanted)


def unsupported_claims(text: str, citations: Sequence[Mapping[str, Any]]) -> int:
    """Claims shown without a citation whose quote supports them."""
    quotes = {c.get("n"): str(c.get("quote", "")) for c in citations}
    return sum(
        not claim_supported(claim, [quotes[n] for n in cited if n in quotes])
        for claim, cited in answer_claims(text)
    )


def echoes_prompt(text: str) -> bool:
    """The answer reproduces the LLM prompt's passage delimiters or its instructions."""
    return bool(_ECHO.search(text))


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), numpy's default; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def is_answerable(row: Mapping[str, Any]) -> bool:
    return row["type"] != UNANSWERABLE


def score_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Per-question scores; keys that do not apply to this question are None."""
    answerable, answered = is_answerable(row), bool(row["answered"])
    retrieved, gold_sources = row.get("retrieved", []), row.get("sources", [])
    citations = row.get("citations", [])
    scores: dict[str, Any] = {f"hit@{k}": None for k in HIT_KS}
    scores |= {"rr": None, "correct": None, "exact_match": None, "f1": None}
    if answerable:
        for k in HIT_KS:
            scores[f"hit@{k}"] = hit_at_k(retrieved, gold_sources, k)
        scores["rr"] = reciprocal_rank(retrieved, gold_sources)
        text, answers = row.get("answer", ""), row["answers"]
        if answers:  # rows with sources only are judged by retrieval and citations
            scores["correct"] = answered and contains_answer(text, answers)
            said = short_text(row) or text  # DESIGN: on short.quote when there is one
            scores["exact_match"] = exact_match(said, answers) if answered else 0.0
            scores["f1"] = f1(said, answers) if answered else 0.0
    scores["refused_correctly"] = None if answerable else not answered
    scores["citations"] = len(citations)
    scores["citations_valid"] = sum(bool(c.get("valid")) for c in citations)
    text = row.get("answer", "")  # a refusal shows no claim
    scores["unsupported_claims"] = unsupported_claims(text, citations) if answered else 0
    scores["uncited"] = answered and not citations
    scores["prompt_echo"] = echoes_prompt(text)
    gold_set = set(gold_sources)
    scores["citations_on_gold"] = (
        sum(c.get("source") in gold_set for c in citations) if gold_set else None
    )
    return scores


def short_text(row: Mapping[str, Any]) -> str | None:
    """The quote of the row's short answer, if it has one."""
    short = row.get("short")
    return short.get("quote") if isinstance(short, Mapping) else None


def short_scores(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """SHORT_METRICS over answered factoid rows that have gold answers."""
    factoids = [r for r in rows if r["type"] == "factoid" and r["answered"] and r["answers"]]
    shorts = [t for r in factoids if (t := short_text(r))]
    answers = [r["answers"] for r in factoids if short_text(r)]
    return {
        "short_rate": _round(_ratio(len(shorts), len(factoids))),
        "short_exact_match": _round(
            _mean(exact_match(t, a) for t, a in zip(shorts, answers, strict=True))
        ),
        "short_f1": _round(_mean(f1(t, a) for t, a in zip(shorts, answers, strict=True))),
    }


def failure_kind(row: Mapping[str, Any], scores: Mapping[str, Any]) -> str | None:
    """The one label that best explains a wrong row, most fundamental cause first."""
    if scores["citations_valid"] < scores["citations"]:
        return "invalid citation"
    if not is_answerable(row):
        return "missed refusal" if row["answered"] else None
    retrieved, gold = row.get("retrieved", []), row.get("sources", [])
    if gold and hit_at_k(retrieved, gold, max(len(retrieved), 1)) == 0.0:
        return "retrieval miss"
    if not row["answered"]:
        return "false refusal"
    return "wrong sentence" if scores["correct"] is False else None


def _mean(values: Iterable[float | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate rows into the DESIGN.md metrics plus counts; see the module docstring.

    Uses `row["scores"]` when present (as written by the runner), else scores the row.
    """
    scored = [(row, row.get("scores") or score_row(row)) for row in rows]
    answerable = [s for row, s in scored if is_answerable(row)]
    unanswerable = [s for row, s in scored if not is_answerable(row)]
    on_gold = [s for _, s in scored if s["citations_on_gold"] is not None]
    n_cited = sum(s["citations"] for _, s in scored)
    answered_chars = [len(row.get("answer", "")) for row, _ in scored if row["answered"]]
    latencies = [float(row["latency_ms"]) for row, _ in scored if row.get("latency_ms") is not None]
    metrics: dict[str, Any] = {f"hit@{k}": _mean(s[f"hit@{k}"] for s in answerable) for k in HIT_KS}
    metrics |= {
        "mrr": _mean(s["rr"] for s in answerable),
        "answer_accuracy": _mean(s["correct"] for s in answerable),
        "exact_match": _mean(s["exact_match"] for s in answerable),
        "f1": _mean(s["f1"] for s in answerable),
        "citation_validity": _ratio(sum(s["citations_valid"] for _, s in scored), n_cited),
        "citation_precision": _ratio(
            sum(s["citations_on_gold"] for s in on_gold), sum(s["citations"] for s in on_gold)
        ),
        "refusal_accuracy": _mean(s["refused_correctly"] for s in unanswerable),
        "false_refusal_rate": _ratio(
            sum(not row["answered"] for row, _ in scored if is_answerable(row)), len(answerable)
        ),
        "answer_chars_median": statistics.median(answered_chars) if answered_chars else None,
        "latency_ms_p50": percentile(latencies, 50),
        "latency_ms_p95": percentile(latencies, 95),
    }
    metrics |= {
        "unsupported_claims": sum(s.get("unsupported_claims", 0) for _, s in scored),
        "uncited_answers": sum(bool(s.get("uncited")) for _, s in scored),
        "prompt_echoes": sum(bool(s.get("prompt_echo")) for _, s in scored),
    }
    metrics = {name: _round(value) for name, value in metrics.items()} | short_scores(rows)
    return metrics | {
        "n": len(scored),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "n_citations": n_cited,
    }
