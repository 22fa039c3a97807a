"""The `qa` command as outside code sees it: exit codes, --json shapes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT

QA = (
    [sys.executable, "-m", "qa.cli"]
    if not (ROOT / ".venv/bin/qa").exists()
    else [str(ROOT / ".venv/bin/qa")]
)


def qa(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"QA_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*QA, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("cli-data")
    first = qa("ingest", str(CORPUS), "--json", data=data)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["added"] == 3 and report["failed"] == []
    return data


def test_reingest_reports_everything_unchanged(data: Path) -> None:
    out = qa("ingest", str(CORPUS), "--json", data=data)
    report = json.loads(out.stdout)
    assert (report["added"], report["unchanged"], out.returncode) == (0, 3, 0)
    assert set(report) >= {"added", "updated", "unchanged", "removed", "chunks", "failed"}


def test_ask_json_is_the_documented_object(data: Path) -> None:
    out = qa("ask", "Who is Rafael Caro Quintero?", "--json", "--top-k", "3", data=data)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert set(d) >= {"question", "answer", "answered", "citations", "mode", "timings_ms"}
    assert d["answered"] and d["mode"] == "extractive" and d["citations"]
    for c in d["citations"]:
        assert set(c) == {"n", "source", "path", "quote", "start", "end", "page", "score"}
        text = (CORPUS / c["source"]).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["quote"]


def test_a_refusal_is_a_normal_answer(data: Path) -> None:
    out = qa("ask", "What is the capital of Australia?", "--json", data=data)
    d = json.loads(out.stdout)
    assert out.returncode == 0 and d["answered"] is False and d["citations"] == []


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exits_2_with_one_line(data: Path, question: str) -> None:
    out = qa("ask", question, data=data)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_too_long_question_exits_2(data: Path) -> None:
    out = qa("ask", "why " * 25_000, data=data)
    assert out.returncode == 2 and "limit" in out.stderr and "Traceback" not in out.stderr


def test_status_sources_and_remove(data: Path) -> None:
    status = json.loads(qa("status", "--json", data=data).stdout)
    assert status["documents"] == 3 and status["store"] == "embedded"
    assert status["llm"] == "extractive" and status["chunks"] > 3
    sources = json.loads(qa("sources", "--json", data=data).stdout)
    assert sorted(s["source"] for s in sources) == sorted(p.name for p in CORPUS.glob("*.txt"))
    gone = qa("remove", str(CORPUS / "004_5623fc1813019415.txt"), data=data)
    assert gone.returncode == 0, gone.stderr
    assert json.loads(qa("status", "--json", data=data).stdout)["documents"] == 2
    again = qa("remove", "no-such-file.txt", data=data)
    assert again.returncode == 2 and "not in the index" in again.stderr
    assert qa("ingest", str(CORPUS), "--json", data=data).returncode == 0


@pytest.mark.parametrize("cmd", ["ask", "ingest", "ui", "eval", "status"])
def test_subcommand_help_exits_0(cmd: str) -> None:
    out = subprocess.run([*QA, cmd, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Usage:" in out.stdout and out.stderr == ""


def test_usage_error_exits_2() -> None:
    out = subprocess.run([*QA, "ask"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_help_lists_every_command() -> None:
    out = subprocess.run([*QA, "--help"], capture_output=True, text=True, timeout=60)
    for cmd in ("ingest", "ask", "chat", "ui", "eval", "sources", "remove", "status"):
        assert cmd in out.stdout
    assert out.stderr == ""


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    env = os.environ | {"QA_TOP_K": "many", "QA_DATA_DIR": str(tmp_path)}
    out = subprocess.run([*QA, "status"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "top_k" in out.stderr


def test_chat_keeps_the_conversation(data: Path) -> None:
    env = os.environ | {"QA_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    script = "Who is Rafael Caro Quintero?\nWhen was he released from prison?\n\n"
    out = subprocess.run(
        [*QA, "chat"], input=script, capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "Guadalajara" in out.stdout and "2013" in out.stdout
