"""How the `qa` command reports errors: through click's own exception classes.

A user mistake is a click.UsageError (exit 2), a failure a click.ClickException (exit 1);
click prints them and exits. Each is one line on stderr, or with --json one JSON object
`{"error": message, "exit_code": n}`. No message ever carries a secret setting.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Callable
from typing import IO, Any

import click

from qa.errors import QAError


class BadInput(click.UsageError):
    """A user mistake (exit 2): one line, or one JSON object with --json."""

    def __init__(self, message: str, *, as_json: bool = False) -> None:
        super().__init__(message)
        self.as_json = as_json

    def show(self, file: IO[Any] | None = None) -> None:
        show_error(self, self.as_json)


class Failure(click.ClickException):
    """Something failed that the user may fix or retry (exit 1): one line, or JSON."""

    def __init__(self, message: str, *, as_json: bool = False) -> None:
        super().__init__(message)
        self.as_json = as_json

    def show(self, file: IO[Any] | None = None) -> None:
        show_error(self, self.as_json)


def show_error(e: click.ClickException, as_json: bool) -> None:
    if as_json:
        error = {"error": e.format_message(), "exit_code": e.exit_code}
        click.echo(json.dumps(error, ensure_ascii=False), err=True)
    else:
        click.echo(f"error: {e.format_message()}", err=True)  # the one-line form users know


def click_error(e: Exception, as_json: bool) -> click.ClickException:
    """The click exception that reports a QAError, a bad setting or a surprise."""
    from pydantic import ValidationError

    if isinstance(e, QAError):
        kind = BadInput if e.exit_code == 2 else Failure
        return kind(redact(str(e)), as_json=as_json)
    if isinstance(e, ValidationError):  # a bad QA_* variable; never echo the value itself
        bad = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        return BadInput(f"bad setting: {bad}", as_json=as_json)
    logging.getLogger("qa").debug("unexpected error", exc_info=True)
    message = redact(f"unexpected {type(e).__name__}: {e} (run with -vv for details)")
    return Failure(message, as_json=as_json)


def redact(message: str) -> str:
    """No secret setting ever reaches an error message, whatever a library put in it."""
    names = ("OPENAI_API_KEY", "QA_OPENAI_API_KEY", "QA_UI_AUTH")
    secrets = {os.environ.get(n) for n in names}
    with contextlib.suppress(Exception):  # the settings themselves may be what failed
        from qa.settings import get_settings, reveal

        settings = get_settings()
        secrets |= {reveal(settings.openai_api_key), reveal(settings.ui_auth)}
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def reporting_errors(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so every error leaves as a click exception (click prints it, exits)."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as e:
            raise click_error(e, kwargs.get("as_json") is True) from e

    run.reports_errors = True  # type: ignore[attr-defined]
    return run


class JsonAwareCommand(click.Command):
    """With --json, even a command-line mistake is reported as one JSON object."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        wants_json = "--json" in args  # before the parser consumes `args`
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            if wants_json:
                raise BadInput(e.format_message(), as_json=True) from e
            raise
