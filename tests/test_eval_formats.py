"""Reading gold sets: the DESIGN.md jsonl format and the CSV / LabelledRagDataset imports.

Why: `qa eval --gold FILE` must measure anyone's corpus from the question set they
already have, and a malformed set must fail with one line naming the place at fault,
not a traceback or, worse, a silently skipped question.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.formats import (
    GoldFormatError,
    GoldItem,
    find_sources,
    load_gold,
    read_text_documents,
    write_jsonl,
)

ROW = {
    "id": "q1",
    "question": "How many were extradited?",
    "answers": ["29", "twenty-nine"],
    "sources": ["corpus/a.txt"],
    "type": "factoid",
}
NO_ANSWER = {"id": "u1", "question": "Which judge?", "answers": [], "sources": [],
             "type": "unanswerable"}  # fmt: skip


def write_lines(path: Path, *objects: Any) -> Path:
    lines = [o if isinstance(o, str) else json.dumps(o) for o in objects]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the DESIGN.md jsonl format --------------------------------------------------------


def test_jsonl_rows_load_as_gold_items_with_bare_file_names(tmp_path: Path) -> None:
    items = load_gold(write_lines(tmp_path / "gold.jsonl", ROW, "", NO_ANSWER))
    assert items == [
        GoldItem("q1", "How many were extradited?", ("29", "twenty-nine"), ("a.txt",), "factoid"),
        GoldItem("u1", "Which judge?", (), (), "unanswerable"),
    ]
    assert [item.answerable for item in items] == [True, False]


def test_a_row_with_sources_but_no_answer_strings_loads(tmp_path: Path) -> None:
    """The 10-Q devset judges some long answers only by their source document."""
    row = ROW | {"id": "q3", "answers": [], "type": "long"}
    (item,) = load_gold(write_lines(tmp_path / "gold.jsonl", row))
    assert (item.answers, item.sources, item.answerable) == ((), ("a.txt",), True)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "gold.jsonl line 2: not valid JSON"),
        ("[1, 2]", "gold.jsonl line 2: expected a JSON object"),
        ({"id": "q2", "question": "Q?"}, "line 2: missing field(s) answers, sources, type"),
        (ROW | {"id": "q2", "type": "trivia"}, "line 2: type 'trivia' is not one of factoid"),
        (ROW | {"id": "q2", "answers": "29"}, "line 2: 'answers' must be a list"),
        (ROW | {"id": "q2", "answers": [""]}, "line 2: 'answers' must be a list of non-empty"),
        (ROW | {"id": "q2", "question": " "}, "line 2: 'question' must be a non-empty string"),
        (ROW | {"id": "q2", "answers": [], "sources": []}, "line 2: no answers and no sources"),
        (NO_ANSWER | {"answers": ["x"]}, "line 2: an unanswerable question has no answers"),
        (ROW, "gold.jsonl: duplicate id 'q1'"),
    ],
)
def test_a_bad_jsonl_row_fails_with_one_line_naming_it(
    tmp_path: Path, line: Any, message: str
) -> None:
    path = write_lines(tmp_path / "gold.jsonl", ROW, line)
    with pytest.raises(GoldFormatError) as info:
        load_gold(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_empty_and_unknown_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(GoldFormatError, match="gold file not found"):
        load_gold(tmp_path / "nope.jsonl")
    with pytest.raises(GoldFormatError, match=r"empty\.jsonl: no questions"):
        load_gold(write_lines(tmp_path / "empty.jsonl", ""))
    with pytest.raises(GoldFormatError, match=r"unknown gold format '\.yaml'"):
        load_gold(write_lines(tmp_path / "gold.yaml", ROW))


def test_write_jsonl_round_trips(tmp_path: Path) -> None:
    items = load_gold(write_lines(tmp_path / "in.jsonl", ROW, NO_ANSWER))
    write_jsonl(items, tmp_path / "out.jsonl")
    assert load_gold(tmp_path / "out.jsonl") == items


# --- CSV -------------------------------------------------------------------------------

CSV = """\ufeffQuestion,Answer,Source
How many were extradited?,29|twenty-nine,a.txt
Which judge presided?,,
Who and how many?,Caro Quintero|29,a.txt|b.txt
Why did Mexico act?,to avoid tariffs threatened by the Trump administration,b.txt
"""


def test_csv_rows_split_answers_and_guess_the_type(tmp_path: Path) -> None:
    path = tmp_path / "gold.csv"
    path.write_text(CSV, encoding="utf-8")  # with a BOM, as Excel writes it
    items = load_gold(path)
    assert [i.id for i in items] == ["csv-001", "csv-002", "csv-003", "csv-004"]
    assert items[0].answers == ("29", "twenty-nine") and items[0].type == "factoid"
    assert items[1] == GoldItem("csv-002", "Which judge presided?", (), (), "unanswerable")
    assert items[2].sources == ("a.txt", "b.txt") and items[2].type == "multi"
    assert items[3].type == "long"


def test_csv_id_and_type_columns_are_used_when_present(tmp_path: Path) -> None:
    path = tmp_path / "gold.csv"
    path.write_text("id,type,question,answers,sources\nx7,paraphrase,Q?,29,a.txt\n")
    assert load_gold(path) == [GoldItem("x7", "Q?", ("29",), ("a.txt",), "paraphrase")]


def test_csv_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "gold.csv"
    path.write_text("question,source\nQ?,a.txt\n")
    with pytest.raises(GoldFormatError, match=r"gold\.csv: needs 'question' and 'answer' columns"):
        load_gold(path)
    path.write_text("question,answer\nQ?,29\n,30\n")
    with pytest.raises(GoldFormatError, match=r"gold\.csv line 3: 'question' must be"):
        load_gold(path)


# --- llama-index LabelledRagDataset ----------------------------------------------------

DOCUMENTS = {
    "a.txt": "Mexico has extradited 29 alleged drug traffickers to the US.\n\nMore text.",
    "b.txt": "Tariffs of 25% were threatened.",
}


def rag_dataset(*examples: dict[str, Any]) -> dict[str, Any]:
    """The shape `LabelledRagDataset.save_json` writes (pydantic model_dump of examples)."""
    return {
        "examples": [
            {
                "query": ex["query"],
                "query_by": {"model_name": "gpt-4", "type": "ai"},
                "reference_contexts": ex.get("contexts"),
                "reference_answer": ex["answer"],
                "reference_answer_by": {"model_name": "", "type": "human"},
            }
            for ex in examples
        ]
    }


def test_labelled_rag_dataset_imports_with_sources_found_in_the_documents(
    tmp_path: Path,
) -> None:
    path = write_lines(
        tmp_path / "rag_dataset.json",
        rag_dataset(
            {"query": "How many?", "answer": "29",
             "contexts": ["Mexico has extradited 29 alleged  drug traffickers"]},
            {"query": "What tariff was threatened on Mexico?",
             "answer": "A tariff of 25% on all imports was threatened.",
             "contexts": ["Tariffs of 25% were threatened."]},
            {"query": "Which judge?", "answer": "", "contexts": None},
        ),
    )  # fmt: skip
    items = load_gold(path, documents=DOCUMENTS)
    assert items[0] == GoldItem("rag-001", "How many?", ("29",), ("a.txt",), "factoid")
    assert items[1].sources == ("b.txt",) and items[1].type == "long"
    assert items[2] == GoldItem("rag-003", "Which judge?", (), (), "unanswerable")
    assert load_gold(path)[0].sources == ()  # without documents nothing can be located


def test_find_sources_locates_long_contexts_despite_a_metadata_header() -> None:
    text = "Intro. " * 50 + "The extradition bypassed the usual treaty protocols, it said. " * 6
    context = "file_name: c.txt\n\n" + text[300:700]
    assert find_sources([context], {"c.txt": text, "a.txt": "other"}) == ["c.txt"]
    assert find_sources(["not in any document"], {"c.txt": text}) == []


def test_json_list_of_design_rows_is_accepted(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "gold.json", [ROW, NO_ANSWER])
    assert [i.id for i in load_gold(path)] == ["q1", "u1"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"examples": 3}', "rag.json: expected a LabelledRagDataset with an 'examples' list"),
        ('{"examples": [{"query": "", "reference_answer": "x"}]}', "rag.json example 1:"),
        ('{"examples": [{"query": "Q", "reference_answer": 7}]}', "'reference_answer' must be"),
        ('{"examples": [', "rag.json: not valid JSON"),
    ],
)
def test_bad_labelled_rag_dataset_fails_clearly(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "rag.json"
    path.write_text(content)
    with pytest.raises(GoldFormatError, match=message):
        load_gold(path)


def test_read_text_documents_keeps_only_plain_text_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("alpha")
    (tmp_path / "sub" / "b.md").write_text("# beta")
    (tmp_path / "c.pdf").write_bytes(b"%PDF-1.4")
    assert read_text_documents(tmp_path) == {"a.txt": "alpha", "b.md": "# beta"}
