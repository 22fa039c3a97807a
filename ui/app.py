"""The Gradio app: a chat beside its sources, a documents tab, and the `/ask` API.

`build_app(engine)` only lays out components and wires events; the work is in
ui/chat.py and ui/library.py, the markup in ui/render.py. Launch it with `launch()`,
which adds the theme and CSS (Gradio 6 takes them at launch), the login and the
offline-safe defaults.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from qa import Engine, InputError
from ui import render, theme, uploads

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger(__name__)

EXAMPLES = [  # the default corpus (corpus/): Mexico's extradition of 29 cartel figures
    "How many alleged drug traffickers did Mexico extradite to the United States?",
    "Which former cartel leader was among those extradited?",
    "Why is Caro Quintero wanted in the US?",
    "What did the US Attorney General say about the extradition?",
]
CHAT_PLACEHOLDER = (
    "<div style='text-align:center'><h3>Ask your documents</h3>"
    "<p>Every answer cites the exact passage it rests on. Click a number to see it.</p></div>"
)


def build_app(engine: Engine) -> gr.Blocks:
    """The whole UI around one shared Engine; each browser session has its own history."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from ui.chat import ChatHandlers, new_session
    from ui.library import Library

    chat, library = ChatHandlers(engine), Library(engine)

    def open_document(where: dict[str, Any]) -> str:  # a plain function: gradio tags it
        return chat.open_document(where)

    # delete_cache: Gradio's own copies of uploads go after an hour (ours live in uploads/)
    with gr.Blocks(title="corpus-qa", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        session = gr.State(new_session())
        with gr.Row(elem_id="qa-header"):
            gr.HTML(
                "<h1>corpus-qa</h1><p>Answers from your documents, every claim with a "
                "checkable citation.</p>",
                scale=3,
            )
            status = gr.HTML(library.status(), scale=2)
        with gr.Tabs():
            with gr.Tab("Chat"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=420):
                    bot = gr.Chatbot(
                        elem_id="qa-chat",
                        height=560,
                        show_label=False,
                        placeholder=CHAT_PLACEHOLDER,
                        examples=[{"text": q} for q in EXAMPLES],
                        latex_delimiters=[],  # "$5 million and $6 million" is not LaTeX
                        feedback_options=None,
                        buttons=["copy"],
                    )
                    with gr.Row(equal_height=False, elem_id="qa-ask-row"):
                        box = gr.Textbox(
                            elem_id="qa-input",
                            placeholder="Ask a question about your documents…",
                            show_label=False,
                            container=False,
                            lines=1,
                            max_lines=6,
                            scale=8,
                            autofocus=True,
                        )
                        send = gr.Button("Ask", variant="primary", scale=0, min_width=88)
                    with gr.Row(elem_id="qa-under", equal_height=False):
                        gr.HTML(
                            '<p class="qa-tip">Enter to ask · follow-ups use the conversation'
                            " · click a number to see its source</p>"
                        )
                        new = gr.Button("New chat", size="sm", scale=0, min_width=96)
                with gr.Column(scale=2, min_width=340):
                    sources = gr.HTML(
                        render.panel_html([]),
                        elem_id="qa-sources",
                        js_on_load=theme.SOURCES_JS,
                        server_functions=[open_document],
                    )
            with gr.Tab("Documents"), gr.Row(equal_height=False):
                with gr.Column(scale=2, min_width=320):
                    files = gr.File(
                        label=f"Drop files to add them (up to {library.max_mb:g} MB each)",
                        file_count="multiple",
                        file_types=list(uploads.ALLOWED),
                        type="filepath",
                        height=180,
                    )
                    report = gr.HTML()
                with gr.Column(scale=3, min_width=420):
                    table = gr.HTML(elem_id="qa-docs")
                    with gr.Row(elem_id="qa-doc-actions", equal_height=False):
                        picker = gr.Dropdown(label="Remove a document", choices=[], scale=4)
                        delete = gr.Button("Delete", variant="stop", scale=0, min_width=90)
                        reindex = gr.Button("Re-index all", scale=0, min_width=140)

        ask: dict[str, Any] = {
            "fn": chat.respond,
            "inputs": [box, session],
            "outputs": [box, bot, sources, session],
            "concurrency_limit": 8,
            "concurrency_id": "chat",
            "show_progress": "minimal",
            "api_visibility": "private",
        }
        asking = [
            box.submit(**ask),
            send.click(**ask),
            bot.example_select(chat.example, None, box, api_visibility="private").then(**ask),
        ]
        reset = [bot, sources, session, box]
        # a new chat stops an answer still streaming, or it would write the old session back
        new.click(chat.clear, None, reset, cancels=asking, api_visibility="private")
        bot.clear(chat.clear, None, reset, cancels=asking, api_visibility="private")
        gr.api(chat.ask_json, api_name="ask", concurrency_limit=8)

        lib_out = [report, table, picker, status]
        write: dict[str, Any] = {
            "concurrency_limit": 1,
            "concurrency_id": "write",
            "show_progress_on": report,  # one progress bar, not one per output
        }
        files.upload(library.upload, files, lib_out, api_name="upload", **write).then(
            lambda: None, None, files, api_visibility="private"
        )
        delete.click(library.delete, picker, lib_out, api_name="delete", **write)
        reindex.click(library.reindex, None, lib_out, api_name="reindex", **write)
        app.load(library.views, None, lib_out, api_visibility="private", show_progress="hidden")
    return app


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """QA_UI_AUTH=user:password -> ("user", "password"); unset -> no login."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise InputError("QA_UI_AUTH must look like user:password")
    return user, password


def check_port(host: str, port: int) -> None:
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as e:
        raise InputError(
            f"cannot listen on {host}:{port} ({e.strerror or e}); pick another with --port"
        ) from None


def warm_up(engine: Engine) -> None:
    """Open the index and load the model before serving, so the first answer is quick.

    Done on one thread before the server starts: the store opens Chroma lazily, and two
    first requests racing to open it fail inside chromadb (KeyError / unknown tenant).
    The extractive path is then warmed in the background (never an LLM call).
    """
    try:
        engine.retrieve("warm up", 1)
    except Exception:  # an empty or broken index shows itself in the UI, with its message
        log.debug("warm-up failed", exc_info=True)
        return
    if engine.settings.llm == "extractive":
        threading.Thread(target=_quietly, args=(engine,), name="qa-warm-up", daemon=True).start()


def _quietly(engine: Engine) -> None:
    try:
        engine.ask("What is this collection of documents about?")
    except Exception:
        log.debug("warm-up failed", exc_info=True)


def launch(
    engine: Engine | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    quiet: bool = True,
) -> tuple[gr.Blocks, str]:
    """Start the server in the background (never a share link). Returns (app, local URL)."""
    engine = engine or Engine()
    secret = engine.settings.ui_auth
    auth = parse_auth(secret.get_secret_value() if secret else None)
    if port is not None:
        check_port(host, port)  # before any work: a busy port is a user mistake, said plainly
    app = build_app(engine)
    warm_up(engine)
    app.queue(default_concurrency_limit=4)
    _, url, _ = app.launch(
        server_name=host,
        server_port=port,
        share=False,
        auth=auth,
        auth_message="corpus-qa: sign in (QA_UI_AUTH)." if auth else None,
        prevent_thread_lock=True,
        quiet=quiet,
        show_error=True,
        footer_links=["api"],
        theme=theme.theme(),
        css=theme.CSS,
        ssr_mode=False,
        mcp_server=False,
        enable_monitoring=False,
        run_history=False,
        max_file_size=f"{int(engine.settings.max_upload_mb * 1024)}kb",
    )
    return app, url
