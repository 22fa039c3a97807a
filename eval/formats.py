"""Gold question sets: the DESIGN.md jsonl format, plus importers for other people's sets.

`load_gold` picks the reader by extension:
- `.jsonl` the DESIGN.md format (one object per line: id, question, answers, sources, type);
- `.json`  a llama-index `LabelledRagDataset` (`{"examples": [{"query", "reference_answer",
  "reference_contexts", ...}]}`), or a JSON list of DESIGN.md objects;
- `.csv`   columns question, answer, source (several answers or sources separated by
  "|"; an empty answer means the question is unanswerable; optional id and type).

Every error is one line naming the file and line (or example) at fault.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eval.metrics import UNANSWERABLE, normalize

GOLD_TYPES: tuple[str, ...] = ("factoid", "paraphrase", "multi", "long", UNANSWERABLE)
TEXT_SUFFIXES = (".txt", ".md")
_FIELDS = ("id", "question", "answers", "sources", "type")
_SHORT_ANSWER_WORDS = 5


class GoldFormatError(ValueError):
    """A gold file cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class GoldItem:
    """One gold question. `sources` are bare file names, as in `Citation.source`."""

    id: str
    question: str
    answers: tuple[str, ...]
    sources: tuple[str, ...]
    type: str

    @property
    def answerable(self) -> bool:
        return self.type != UNANSWERABLE

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def make_item(raw: Mapping[str, Any], where: str) -> GoldItem:
    """Validate one DESIGN.md object; `where` ("gold.jsonl line 3") prefixes every error."""
    missing = [f for f in _FIELDS if f not in raw]
    if missing:
        raise GoldFormatError(f"{where}: missing field(s) {', '.join(missing)}")
    for name in ("id", "question"):
        if not isinstance(raw[name], str) or not raw[name].strip():
            raise GoldFormatError(f"{where}: '{name}' must be a non-empty string")
    for name in ("answers", "sources"):
        value = raw[name]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise GoldFormatError(f"{where}: '{name}' must be a list of non-empty strings")
    kind = raw["type"]
    if kind not in GOLD_TYPES:
        raise GoldFormatError(f"{where}: type {kind!r} is not one of {', '.join(GOLD_TYPES)}")
    if kind == UNANSWERABLE and (raw["answers"] or raw["sources"]):
        raise GoldFormatError(f"{where}: an unanswerable question has no answers or sources")
    if kind != UNANSWERABLE and not raw["answers"] and not raw["sources"]:
        # No answers but sources: a question judged by where it is answered from (the 10-Q
        # devset has such rows); it counts for retrieval and citations, not answer_accuracy.
        raise GoldFormatError(
            f"{where}: no answers and no sources (use type 'unanswerable' for none)"
        )
    return GoldItem(
        id=raw["id"].strip(),
        question=raw["question"].strip(),
        answers=tuple(a.strip() for a in raw["answers"]),
        sources=tuple(Path(s.strip()).name for s in raw["sources"]),
        type=kind,
    )


def _check_unique(items: list[GoldItem], name: str) -> list[GoldItem]:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise GoldFormatError(f"{name}: duplicate id {item.id!r}")
        seen.add(item.id)
    if not items:
        raise GoldFormatError(f"{name}: no questions")
    return items


def read_jsonl(path: Path) -> list[GoldItem]:
    """The DESIGN.md format; blank lines are allowed."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldFormatError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(raw, dict):
            raise GoldFormatError(f"{where}: expected a JSON object")
        items.append(make_item(raw, where))
    return items


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split("|") if part.strip()]


def _guess_type(answers: list[str], sources: list[str]) -> str:
    if not answers:
        return UNANSWERABLE
    if len(sources) > 1:
        return "multi"
    short = all(len(a.split()) <= _SHORT_ANSWER_WORDS for a in answers)
    return "factoid" if short else "long"


def read_csv(path: Path) -> list[GoldItem]:
    """Columns question, answer(s), source(s) (any case), optional id and type."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}

        def column(*names: str) -> str | None:
            return next((columns[n] for n in names if n in columns), None)

        q_col, a_col = column("question", "query"), column("answer", "answers")
        s_col, id_col, t_col = column("source", "sources"), column("id"), column("type")
        if q_col is None or a_col is None:
            raise GoldFormatError(f"{path.name}: needs 'question' and 'answer' columns")
        items = []
        for number, record in enumerate(reader, start=1):
            answers = _split(record.get(a_col))
            sources = _split(record.get(s_col)) if s_col else []
            raw = {
                "id": (record.get(id_col) or "").strip() if id_col else "",
                "question": record.get(q_col) or "",
                "answers": answers,
                "sources": sources if answers else [],
                "type": (record.get(t_col) or "").strip() if t_col else "",
            }
            raw["id"] = raw["id"] or f"csv-{number:03d}"
            raw["type"] = raw["type"] or _guess_type(answers, sources)
            items.append(make_item(raw, f"{path.name} line {reader.line_num}"))
    return items


def find_sources(contexts: Iterable[str], documents: Mapping[str, str]) -> list[str]:
    """Names of the documents that contain any of the reference contexts (normalised).

    Reference contexts are chunk texts, sometimes with a metadata header or other text
    added at the edges, so a long context is looked for by its middle 200 characters.
    """
    normalised = {name: normalize(text) for name, text in documents.items()}
    found: list[str] = []
    for context in contexts:
        probe = normalize(context)
        if len(probe) > 240:
            probe = probe[20:220]
        found += [n for n, text in normalised.items() if probe and probe in text and n not in found]
    return found


def _labelled_rag_examples(data: Any, name: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    examples = data.get("examples") if isinstance(data, dict) else None
    if not isinstance(examples, list):
        raise GoldFormatError(f"{name}: expected a LabelledRagDataset with an 'examples' list")
    for number, example in enumerate(examples, start=1):
        if not isinstance(example, dict):
            raise GoldFormatError(f"{name} example {number}: expected a JSON object")
        yield number, example


def read_json(path: Path, documents: Mapping[str, str] | None = None) -> list[GoldItem]:
    """A llama-index LabelledRagDataset, or a JSON list of DESIGN.md objects.

    A LabelledRagDataset names no files: its sources are found by locating each
    reference context in `documents` (file name -> text); without them the sources stay
    empty and the question counts for answer metrics only.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise GoldFormatError(
            f"{path.name}: not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    if isinstance(data, list):
        return [make_item(raw, f"{path.name} item {i}") for i, raw in enumerate(data, start=1)]
    items = []
    for number, example in _labelled_rag_examples(data, path.name):
        answer = example.get("reference_answer") or ""
        contexts = example.get("reference_contexts") or []
        if not isinstance(answer, str) or not isinstance(contexts, list):
            raise GoldFormatError(
                f"{path.name} example {number}: 'reference_answer' must be a string "
                "and 'reference_contexts' a list"
            )
        answers = [answer.strip()] if answer.strip() else []
        sources = find_sources(map(str, contexts), documents or {}) if answers else []
        raw = {
            "id": f"rag-{number:03d}",
            "question": example.get("query") or "",
            "answers": answers,
            "sources": sources,
            "type": _guess_type(answers, []),
        }
        items.append(make_item(raw, f"{path.name} example {number}"))
    return items


def load_gold(path: str | Path, *, documents: Mapping[str, str] | None = None) -> list[GoldItem]:
    """Read a gold set, choosing the format by extension; ids must be unique.

    `documents` (file name -> text) lets a LabelledRagDataset find its source files.
    """
    path = Path(path)
    if not path.is_file():
        raise GoldFormatError(f"gold file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        items = read_jsonl(path)
    elif suffix == ".json":
        items = read_json(path, documents)
    elif suffix == ".csv":
        items = read_csv(path)
    else:
        raise GoldFormatError(f"{path.name}: unknown gold format {suffix!r} (.jsonl, .json, .csv)")
    return _check_unique(items, path.name)


def read_text_documents(folder: str | Path) -> dict[str, str]:
    """File name -> text for the .txt/.md files under `folder`, for `load_gold(documents=)`."""
    return {
        p.name: p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
    }


def write_jsonl(items: Iterable[GoldItem], path: str | Path) -> None:
    """Write items in the DESIGN.md format, e.g. to convert an imported set once."""
    lines = [json.dumps(item.to_dict(), ensure_ascii=False) for item in items]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
