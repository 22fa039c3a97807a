"""Follow-up accuracy: conversations of 2-4 turns asked in order, each with its history.

A line of the conversations file: {"id", "turns": [{"question", "answers"}, ...]}. A turn
is right when it is answered and the answer holds a gold answer (the gold rule of
DESIGN.md); `follow_up_accuracy` is over the turns after the first, which only make sense
with the conversation before them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.metrics import contains_answer

if TYPE_CHECKING:
    from qa import Engine

DEFAULT_CONVERSATIONS = Path(__file__).with_name("conversations.jsonl")


def load_conversations(path: str | Path) -> list[dict[str, Any]]:
    """Parse and check the file; raises ValueError with a one-line message."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            conv = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not JSON ({e.msg})") from None
        turns = conv.get("turns") if isinstance(conv, dict) else None
        if not isinstance(turns, list) or not turns:
            raise ValueError(f"{path}:{n}: a conversation needs a non-empty 'turns' list")
        for t in turns:
            if not isinstance(t, dict) or not isinstance(t.get("question"), str):
                raise ValueError(f"{path}:{n}: every turn needs a 'question' string")
            if not isinstance(t.get("answers", []), list):
                raise ValueError(f"{path}:{n}: 'answers' must be a list")
        out.append({"id": str(conv.get("id", f"conversation-{n}")), "turns": turns})
    return out


def run_conversations(
    engine: Engine, conversations: Sequence[dict[str, Any]]
) -> tuple[float | None, list[dict[str, Any]]]:
    """(follow_up_accuracy, one row per turn)."""
    rows: list[dict[str, Any]] = []
    for conv in conversations:
        history: list[dict[str, str]] = []
        for i, turn in enumerate(conv["turns"]):
            answer = engine.ask(turn["question"], history)
            right = answer.answered and contains_answer(answer.text, turn.get("answers", []))
            rows.append(
                {
                    "conversation": conv["id"],
                    "turn": i + 1,
                    "question": turn["question"],
                    "search_query": answer.search_query,
                    "answer": answer.text,
                    "answered": answer.answered,
                    "correct": right,
                }
            )
            history += [
                {"role": "user", "content": turn["question"]},
                {"role": "assistant", "content": answer.text},
            ]
    follow = [r["correct"] for r in rows if r["turn"] > 1]
    return (round(sum(follow) / len(follow), 4) if follow else None), rows


def failures_markdown(rows: Sequence[dict[str, Any]]) -> list[str]:
    wrong = [r for r in rows if r["turn"] > 1 and not r["correct"]]
    lines = [f"## Follow-up turns wrong ({len(wrong)} of {sum(r['turn'] > 1 for r in rows)})"]
    for r in wrong:
        said = r["answer"] if r["answered"] else "(refused)"
        lines.append(
            f"- `{r['conversation']}#{r['turn']}` {r['question']} → searched "
            f"“{' '.join(r['search_query'].split())[:120]}” → {' '.join(said.split())[:160]}"
        )
    return lines
