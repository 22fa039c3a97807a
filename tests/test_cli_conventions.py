"""CLI conventions: click's exception classes, JSON errors with --json, help on every option,
one progress library, and secrets that never reach output, logs or error messages."""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from qa import Settings, get_settings
from qa.cli import cli
from tests.conftest import CORPUS, ROOT
from tests.openai_server import OpenAIServer
from tests.test_cli import QA

KEY = "sk-test-Zq9SECRETkey0042"
AUTH = "alice:pw-SECRET-7731"


def qa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = os.environ | {"HF_HUB_OFFLINE": "1"} | env
    return subprocess.run([*QA, *args], capture_output=True, text=True, env=full, timeout=300)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("conventions")
    out = qa("ingest", str(CORPUS), "--json", env={"QA_DATA_DIR": str(data)})
    assert out.returncode == 0, out.stderr
    return data


def json_error(out: subprocess.CompletedProcess[str], exit_code: int) -> str:
    """The one JSON object on stderr; returns its message."""
    assert out.returncode == exit_code and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    error = json.loads(lines[0])
    assert set(error) == {"error", "exit_code"} and error["exit_code"] == exit_code
    return str(error["error"])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["ask", "   ", "--json"], "empty"),
        (["ask", "--json"], "Missing argument"),
        (["ask", "why?", "--top-k", "0", "--json"], "--top-k"),
        (["remove", "no-such-file.txt", "--json"], "not in the index"),
        (["sources", "--json", "--bogus"], "--bogus"),
    ],
)
def test_user_errors_with_json_are_one_json_object_exit_2(
    data: Path, args: list[str], words: str
) -> None:
    assert words in json_error(qa(*args, env={"QA_DATA_DIR": str(data)}), 2)


def test_a_failure_with_json_is_one_json_object_exit_1(data: Path) -> None:
    """An index built with other chunking cannot be searched: a failure, not a mistake."""
    out = qa("status", "--json", env={"QA_DATA_DIR": str(data), "QA_CHUNK_SIZE": "100"})
    assert "rebuild" in json_error(out, 1)


def test_remove_json_reports_what_went(data: Path) -> None:
    victim = CORPUS / "000_78c0487111470116.txt"
    env = {"QA_DATA_DIR": str(data)}
    out = qa("remove", str(victim), "--json", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["removed"] == str(victim) and report["chunks"] > 0
    assert qa("ingest", str(CORPUS), "--json", env=env).returncode == 0


def invoke(args: list[str], monkeypatch: pytest.MonkeyPatch, **env: str) -> BaseException | None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, args, standalone_mode=False)
    finally:
        get_settings.cache_clear()
    return result.exception


def test_errors_are_clicks_own_exception_classes(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_input = invoke(["ask", ""], monkeypatch, QA_DATA_DIR=str(data))
    assert isinstance(bad_input, click.UsageError) and bad_input.exit_code == 2
    bad_setting = invoke(["status"], monkeypatch, QA_DATA_DIR=str(data), QA_TOP_K="many")
    assert isinstance(bad_setting, click.UsageError) and "top_k" in bad_setting.format_message()
    failure = invoke(["status"], monkeypatch, QA_TOP_K="5", QA_CHUNK_SIZE="100")
    assert isinstance(failure, click.ClickException) and failure.exit_code == 1
    assert not isinstance(failure, click.UsageError)


def test_every_option_of_every_command_has_help() -> None:
    ctx = click.Context(cli)
    assert all(p.help for p in cli.params if isinstance(p, click.Option))
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"qa {name} {param.opts[0]} has no help text"
        if name in ("ingest", "ask", "sources", "remove", "status"):  # commands printing data
            assert "as_json" in {p.name for p in command.params}, f"qa {name} lacks --json"


def test_one_progress_library() -> None:
    for package in ("qa", "index", "ui", "eval"):
        for path in (ROOT / package).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                assert not any(n.split(".")[0] == "tqdm" for n in names), path


# ---- secrets ------------------------------------------------------------------------------
def test_secrets_are_masked_in_the_settings_object() -> None:
    s = Settings(openai_api_key=KEY, ui_auth=AUTH)
    for shown in (repr(s), str(s), s.model_dump_json(), str(s.model_dump())):
        assert KEY not in shown and AUTH not in shown
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value() == KEY
    assert Settings(openai_api_key="", ui_auth="").openai_api_key is None


def test_secrets_never_reach_status_logs_or_errors(data: Path) -> None:
    with OpenAIServer(api_key=KEY) as srv:
        env = srv.env() | {
            "QA_DATA_DIR": str(data),
            "QA_UI_AUTH": AUTH,
            "QA_LLM_RETRIES": "1",
            "QA_LLM_BACKOFF": "0.01",
        }
        srv.fail(500, message=f"upstream said: key {KEY} overloaded")  # retried, logged
        srv.fail(400, message=f"Incorrect API key provided: {KEY}")  # the final error
        asked = qa("-vv", "ask", "Who was extradited?", "--json", env=env)
        assert asked.returncode == 0, asked.stderr
        assert srv.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was used
        notice = json.loads(asked.stdout)["notice"]
        assert "HTTP 400" in notice and "***" in notice  # the echoed key, redacted
        status = qa("-vv", "status", "--json", env=env)
        assert status.returncode == 0, status.stderr
        bad = qa("-vv", "status", "--json", env=env | {"QA_TOP_K": "many"})
        assert bad.returncode == 2
    for out in (asked, status, bad):
        for secret in (KEY, AUTH, "pw-SECRET"):
            assert secret not in out.stdout and secret not in out.stderr
