"""The Gradio app: a chat beside its sources, a documents tab, and the `/ask` API.

`build_app(engine)` puts the header and the two tabs (ui/chat_tab.py, ui/documents_tab.py)
together and wires what joins them; the work is in ui/chat.py and ui/library.py, the
markup in ui/render.py. Launch it with `launch()`, which adds the theme and CSS (Gradio 6
takes them at launch), the login and the offline-safe defaults.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import TYPE_CHECKING

from qa import Engine, InputError, set_env_defaults
from ui import theme
from ui.chat_tab import chat_tab, wire_chat
from ui.documents_tab import documents_tab, library_outputs, wire_documents

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger(__name__)


def build_app(engine: Engine) -> gr.Blocks:
    """The whole UI around one shared Engine; each browser session has its own history."""
    set_env_defaults()  # before gradio loads: it reads GRADIO_ANALYTICS_ENABLED on import
    import gradio as gr

    from ui.chat import ChatHandlers, new_session
    from ui.library import Library

    chat, library = ChatHandlers(engine), Library(engine)
    # delete_cache: Gradio's own copies of uploads go after an hour (ours live in uploads/)
    with gr.Blocks(title="corpus-qa", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        session = gr.State(new_session())
        status = _header(library.status())
        with gr.Tabs():
            chats = chat_tab(chat)
            documents = documents_tab(library)
        wire_chat(chats, chat, session)
        gr.api(chat.ask_json, api_name="ask", concurrency_limit=8)
        wire_documents(documents, library, status)
        app.load(
            library.views,
            None,
            library_outputs(documents, status),
            api_visibility="private",
            show_progress="hidden",
        )
    return app


def _header(status: str) -> gr.HTML:
    """The title row; returns the index status box that library actions refresh."""
    import gradio as gr

    with gr.Row(elem_id="qa-header"):
        gr.HTML(
            "<h1>corpus-qa</h1><p>Answers from your documents, every claim with a "
            "checkable citation.</p>",
            scale=3,
        )
        return gr.HTML(status, scale=2)


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
