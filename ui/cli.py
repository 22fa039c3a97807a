"""`qa ui`: serve the chat on this machine (127.0.0.1 unless --host says otherwise).

Registered through the `corpus_qa.commands` entry point; gradio is imported only when
the command runs, so `qa --help` does not pay for it.
"""

from __future__ import annotations

import click


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="Port to use."
)
def ui_command(host: str, port: int) -> None:
    """Open the chat UI in a browser (QA_UI_AUTH=user:password turns on login)."""
    from qa import Engine, set_env_defaults

    set_env_defaults()  # before gradio loads: it reads GRADIO_ANALYTICS_ENABLED on import
    from ui.app import check_port, launch

    check_port(host, port)
    engine = Engine()
    click.echo("corpus-qa: opening the index and loading the model…", err=True)
    app, url = launch(engine, host=host, port=port)
    login = " (login required)" if engine.settings.ui_auth else ""
    click.echo(f"corpus-qa UI: {url.rstrip('/')}/{login}  (Ctrl-C to stop)")
    try:
        app.block_thread()
    finally:
        engine.close()
