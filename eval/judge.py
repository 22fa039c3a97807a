"""The optional LLM judge: faithfulness and answer relevancy graded 1-5 by the configured model.

Runs only when the settings name an OpenAI-compatible endpoint; never raises, so a
broken judge costs its two metrics and leaves a note, not the eval run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa import Settings

JUDGE_METRICS: tuple[str, ...] = ("faithfulness", "answer_relevancy")
#: Used when QA_LLM=openai but QA_LLM_MODEL is unset.
DEFAULT_JUDGE_MODEL = "gpt-4o-mini"

_FAITHFULNESS = (
    "Rate from 1 to 5 how fully the numbered QUOTES support every claim in the ANSWER "
    "(5: every claim is stated in the quotes; 1: the claims are not in the quotes).\n"
    "QUOTES:\n{quotes}\n\nANSWER:\n{answer}\n\nReply with the digit only."
)
_RELEVANCY = (
    "Rate from 1 to 5 how directly the ANSWER addresses the QUESTION "
    "(5: answers exactly what was asked; 1: off the point).\n"
    "QUESTION:\n{question}\n\nANSWER:\n{answer}\n\nReply with the digit only."
)
_GRADE = re.compile(r"[1-5]")


def judge_unavailable(settings: Settings | None) -> str | None:
    """Why the LLM judge cannot run with these settings, or None when it can."""
    if settings is None or getattr(settings, "llm", None) != "openai":
        return "LLM-judged metrics skipped: QA_LLM is not 'openai'"
    if not (settings.openai_api_key or settings.openai_base_url):
        return "LLM-judged metrics skipped: neither OPENAI_API_KEY nor OPENAI_BASE_URL is set"
    return None


def _grade(client: Any, model: str, prompt: str) -> float | None:
    """One 1-5 grade normalised to 0..1; None when the reply holds no grade."""
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], temperature=0, max_tokens=5
    )
    match = _GRADE.search(reply.choices[0].message.content or "")
    return (int(match.group()) - 1) / 4 if match else None


def _judge_prompts(row: Mapping[str, Any]) -> dict[str, str]:
    quotes = "\n".join(f"[{c['n']}] {c['quote']}" for c in row["citations"]) or "(none)"
    return {
        "faithfulness": _FAITHFULNESS.format(quotes=quotes, answer=row["answer"]),
        "answer_relevancy": _RELEVANCY.format(question=row["question"], answer=row["answer"]),
    }


def _client(settings: Settings) -> Any:
    from openai import OpenAI

    return OpenAI(
        base_url=settings.openai_base_url,
        api_key=key.get_secret_value() if (key := settings.openai_api_key) else "unused",
        timeout=settings.llm_timeout,
        max_retries=1,
    )


def llm_judge(
    rows: list[dict[str, Any]], settings: Settings | None, *, client: Any = None
) -> tuple[dict[str, float], list[str]]:
    """Mean LLM grades (0..1) of the answered rows, and notes for the report.

    Never raises: not configured -> no metrics and a note; the first endpoint failure
    stops the judge (no partial figures) with a note. Per-row grades go into row scores.
    """
    reason = None if client is not None else judge_unavailable(settings)
    if reason:
        return {}, [reason]
    model = getattr(settings, "llm_model", None) or DEFAULT_JUDGE_MODEL
    try:
        if client is None and settings is not None:  # settings is set: judge_unavailable
            client = _client(settings)
        grades: dict[str, list[float]] = {name: [] for name in JUDGE_METRICS}
        for row in (r for r in rows if r["answered"]):
            for name, prompt in _judge_prompts(row).items():
                row["scores"][name] = grade = _grade(client, model, prompt)
                if grade is not None:
                    grades[name].append(grade)
    except Exception as exc:
        for row in rows:
            for name in JUDGE_METRICS:
                row["scores"].pop(name, None)
        return {}, [f"LLM-judged metrics skipped: the endpoint failed ({type(exc).__name__})"]
    metrics = {name: round(sum(g) / len(g), 4) for name, g in grades.items() if g}
    return metrics, [f"LLM-judged metrics graded by {model}"]
