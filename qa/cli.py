"""The `qa` command. Heavy imports wait until a command runs, so `qa --help` answers at once.

`qa ui` and `qa eval` live in their own packages (ui/, eval/), which depend on qa, not the
other way round; they register themselves through the `corpus_qa.commands` entry point.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from importlib.metadata import entry_points
from typing import Any

import click

from qa.cli_errors import JsonAwareCommand, reporting_errors
from qa.errors import InputError
from qa.types import Turn


class _Group(click.Group):
    """Loads plug-in commands lazily; every command reports errors through click."""

    command_class = JsonAwareCommand

    def _plugins(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group="corpus_qa.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is None and name in self._plugins():
            try:
                cmd = self._plugins()[name].load()
            except (ImportError, AttributeError) as e:  # a broken or missing plug-in
                logging.getLogger("qa").warning("command %s unavailable: %s", name, e)
        if cmd is not None and cmd.callback and not hasattr(cmd.callback, "reports_errors"):
            cmd.callback = reporting_errors(cmd.callback)
        return cmd


def engine() -> Any:
    from qa.engine import Engine

    return Engine()


def emit(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


@click.group(cls=_Group)
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
@click.version_option(package_name="corpus-qa")
def cli(verbose: int) -> None:
    """Ask questions of a folder of documents; every answer cites the exact span it rests on."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if verbose < 2:
        noisy_loggers = ("chromadb", "httpx", "pypdf", "sentence_transformers", "transformers")
        for noisy in (*noisy_loggers, "urllib3"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the IngestReport as JSON, no progress bar."
)
@click.option("--rebuild", is_flag=True, help="Drop the index (e.g. after a model change) first.")
def ingest(paths: tuple[str, ...], as_json: bool, rebuild: bool) -> None:
    """Add or update documents (files or folders); unchanged files are skipped."""
    show_bar = not as_json and sys.stderr.isatty()  # no bar in logs, CI or --json
    with contextlib.ExitStack() as stack:
        bars: list[Any] = []  # made on the first file, so an early error stays one clean line

        def progress(done: int, total: int, name: str) -> None:
            if not show_bar:
                return
            if not bars:
                bar = click.progressbar(
                    length=total, label="ingesting", file=sys.stderr, item_show_func=_tail
                )
                bars.append(stack.enter_context(bar))
            bars[0].length = total
            bars[0].update(done - bars[0].pos, name)

        report = engine().ingest(list(paths), rebuild=rebuild, progress=progress)
    if as_json:
        emit(report.to_dict())
    else:
        click.echo(
            f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.removed} removed, {report.skipped} skipped, {len(report.failed)} failed; "
            f"{report.chunks} chunks written"
        )
        for f in report.files:
            if f.status in ("failed", "skipped", "duplicate"):
                click.echo(f"  {f.status}: {f.path}: {f.reason}")
    click.get_current_context().exit(1 if report.failed else 0)


def _tail(name: str | None) -> str | None:
    return name[-40:] if name else None


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@click.option("--top-k", type=click.IntRange(1, 50), default=None, help="Passages to consider.")
def ask(question: str, as_json: bool, top_k: int | None) -> None:
    """Answer one question from the indexed documents."""
    eng = engine()
    if as_json:
        emit(eng.ask(question, top_k=top_k).to_dict())
        return
    # Offline answers are whole at once: hold the text back so the short answer leads.
    show_stream(eng.stream(question, top_k=top_k), short_first=eng.settings.llm == "extractive")


def show_short(answer: Any) -> None:
    """The answer phrase itself ("29", "February 27, 2025"), bold, with its marker."""
    if answer.short is not None:
        click.secho(answer.short.quote, bold=True, nl=False)
        click.echo(f" [{answer.short.n}]")


def show_stream(events: Any, *, short_first: bool = False) -> None:
    from qa.types import Answer

    held: list[str] = []
    for event in events:
        if isinstance(event, Answer):
            if short_first:
                show_short(event)
                click.echo("".join(held), nl=False)
            click.echo()
            if event.notice:
                click.secho(f"note: {event.notice}", fg="yellow", err=True)
            for c in event.citations:
                page = f" p.{c.page}" if c.page else ""
                click.secho(f"  [{c.n}] {c.source}{page} @{c.start}-{c.end}: ", fg="cyan", nl=False)
                click.echo(f"\u201c{c.quote}\u201d")
            if not short_first:
                show_short(event)
        elif short_first:
            held.append(event)
        else:
            click.echo(event, nl=False)


@cli.command()
def chat() -> None:
    """A conversation in the terminal; follow-up questions use the earlier turns."""
    eng = engine()
    history: list[Turn] = []
    click.echo("Ask a question (empty line or Ctrl-D to quit).")
    while True:
        try:
            question = click.prompt("?", prompt_suffix=" ", default="", show_default=False)
        except (EOFError, click.Abort):
            break
        if not question.strip():
            break
        try:
            from qa.types import Answer

            final: Answer | None = None

            def capture(events: Any) -> Any:
                nonlocal final
                for e in events:
                    if isinstance(e, Answer):
                        final = e
                    yield e

            show_stream(
                capture(eng.stream(question, history)),
                short_first=eng.settings.llm == "extractive",
            )
        except InputError as e:
            click.echo(f"error: {e}", err=True)
            continue
        if final is not None:
            history += [
                {"role": "user", "content": question},
                {"role": "assistant", "content": final.text},
            ]


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the documents as a JSON list.")
def sources(as_json: bool) -> None:
    """List the indexed documents."""
    from dataclasses import asdict

    docs = engine().sources()
    if as_json:
        emit([asdict(d) for d in docs])
        return
    for d in docs:
        click.echo(f"{d.chunks:5d} chunks  {d.path}")
    click.echo(f"{len(docs)} documents")


@cli.command()
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help='Print {"removed": PATH, "chunks": N}.')
def remove(path: str, as_json: bool) -> None:
    """Remove a document's chunks from the index."""
    n = engine().remove(path)
    if as_json:
        emit({"removed": path, "chunks": n})
    else:
        click.echo(f"removed {path} ({n} chunks)")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status object as JSON.")
def status(as_json: bool) -> None:
    """What is indexed, where, and which answerer is active."""
    s = engine().status()
    if as_json:
        emit(s)
    else:
        for k, v in s.items():
            click.echo(f"{k:12} {v}")


def main() -> None:
    cli(prog_name="qa")


if __name__ == "__main__":  # `python -m qa.cli`, as the tests run it without an install
    main()
