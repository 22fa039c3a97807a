"""`qa eval`: measure corpus-qa on a gold set, print the table, fail when a gate is not met.

Registered with the `qa` command through the `corpus_qa.commands` entry point, so qa/
never imports eval/.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from eval.formats import GoldItem
    from eval.runner import EvalResult

DEFAULT_GOLD = Path(__file__).with_name("gold.jsonl")


@click.command("eval")
@click.option(
    "--gold",
    "gold_path",
    type=click.Path(dir_okay=False),
    default=str(DEFAULT_GOLD),
    show_default=True,
    help="Gold Q&A file (.jsonl, LabelledRagDataset .json, .csv).",
)
@click.option(
    "--docs",
    type=click.Path(file_okay=False),
    default=None,
    help="Ingest this folder into a temporary index first (else use the index).",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write metrics + rows.")
@click.option("--md", "md_out", type=click.Path(dir_okay=False), help="Write a markdown report.")
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, exists=True),
    help="A previous --json file to compare against.",
)
@click.option("--min", "mins", multiple=True, metavar="METRIC=VALUE", help="Fail below this.")
@click.option("--max", "maxs", multiple=True, metavar="METRIC=VALUE", help="Fail above this.")
@click.option(
    "--top-k", type=click.IntRange(1, 50), default=None, help="Passages per question (QA_TOP_K)."
)
@click.option(
    "--conversations",
    type=click.Path(dir_okay=False),
    default=None,
    help="Conversations file for follow_up_accuracy (default: eval/conversations.jsonl "
    "when --gold is the default gold file).",
)
def eval_command(
    gold_path: str,
    docs: str | None,
    json_out: str | None,
    md_out: str | None,
    baseline: str | None,
    mins: tuple[str, ...],
    maxs: tuple[str, ...],
    top_k: int | None,
    conversations: str | None,
) -> None:
    """Score answers and retrieval on gold questions; exit 1 if a --min/--max gate fails."""
    from eval.conversations import failures_markdown
    from eval.gates import check_gates, parse_gates
    from eval.report import to_json, to_markdown
    from qa import InputError

    try:
        gates_min, gates_max = parse_gates(_split(mins)), parse_gates(_split(maxs))
        gold, old, convs = _read_inputs(gold_path, docs, baseline, conversations)
    except ValueError as e:
        raise InputError(str(e)) from e
    result = _measure(gold, docs, top_k, convs)

    md = to_markdown(result, old)
    if convs:
        md += "\n" + "\n".join(failures_markdown(result.info["conversations"])) + "\n"
    click.echo(md)
    if json_out:
        Path(json_out).write_text(to_json(result), encoding="utf-8")
    if md_out:
        Path(md_out).write_text(md, encoding="utf-8")
    failures = check_gates(result.metrics, gates_min, gates_max)
    for f in failures:
        click.echo(f"gate failed: {f}", err=True)
    click.get_current_context().exit(1 if failures else 0)


def _read_inputs(
    gold_path: str, docs: str | None, baseline: str | None, conversations: str | None
) -> tuple[list[GoldItem], dict[str, Any] | None, list[dict[str, Any]]]:
    """The gold items, the baseline (or None) and the conversations; ValueError if unreadable
    (a GoldFormatError is one)."""
    from eval.conversations import DEFAULT_CONVERSATIONS, load_conversations
    from eval.formats import load_gold, read_text_documents
    from eval.report import load_baseline

    try:
        # A LabelledRagDataset names no files: its contexts are matched to the --docs texts.
        gold = load_gold(gold_path, documents=read_text_documents(docs) if docs else None)
        old = load_baseline(baseline) if baseline else None
        if conversations is None and Path(gold_path).resolve() == DEFAULT_GOLD.resolve():
            conversations = str(DEFAULT_CONVERSATIONS)
        convs = load_conversations(conversations) if conversations else []
    except OSError as e:
        raise ValueError(str(e)) from e
    return gold, old, convs


def _measure(
    gold: list[GoldItem], docs: str | None, top_k: int | None, convs: list[dict[str, Any]]
) -> EvalResult:
    """Ask the gold questions (and conversations) of an engine on --docs or on the index."""
    from eval.conversations import run_conversations
    from eval.runner import run_eval
    from qa import Engine, Settings, get_settings

    with tempfile.TemporaryDirectory(prefix="qa-eval-") as tmp:
        settings = get_settings()
        if docs:
            settings = Settings(**(settings.model_dump() | {"data_dir": Path(tmp)}))
        engine = Engine(settings)
        try:
            if docs:
                report = engine.ingest([docs])
                click.echo(
                    f"ingested {docs}: {report.added} documents, {report.chunks} chunks, "
                    f"{len(report.failed)} failed",
                    err=True,
                )
            with click.progressbar(length=len(gold), label="asking", file=sys.stderr) as bar:
                result = run_eval(
                    engine,
                    gold,
                    top_k=top_k,
                    progress=lambda done, total: bar.update(done - bar.pos),
                )
            if convs:
                accuracy, turns = run_conversations(engine, convs)
                result.metrics["follow_up_accuracy"] = accuracy
                result.info["conversations"] = turns
        finally:
            engine.close()
    return result


def _split(specs: tuple[str, ...]) -> list[str]:
    """Accept `--min a=1 --min b=2` and `--min a=1,b=2`."""
    return [part.strip() for spec in specs for part in spec.split(",") if part.strip()]
