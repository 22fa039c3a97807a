"""The Chat tab: the conversation and its ask box beside the cited sources, and its events.

Layout and wiring only; answering is ui/chat.py's `ChatHandlers`, the markup ui/render.py.
Called inside the app's `gr.Blocks` and `gr.Tabs` contexts by ui/app.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ui import render, theme

if TYPE_CHECKING:
    import gradio as gr

    from ui.chat import ChatHandlers

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


@dataclass(frozen=True)
class ChatTab:
    """The components of the Chat tab that events read or write."""

    bot: gr.Chatbot
    box: gr.Textbox
    send: gr.Button
    new: gr.Button
    sources: gr.HTML


def chat_tab(chat: ChatHandlers) -> ChatTab:
    """Lay out the tab: the conversation (left) and the sources panel (right)."""
    import gradio as gr

    def open_document(where: dict[str, Any]) -> str:  # a plain function: gradio tags it
        return chat.open_document(where)

    with gr.Tab("Chat"), gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            bot, box, send, new = _conversation()
        with gr.Column(scale=2, min_width=340):
            sources = gr.HTML(
                render.panel_html([]),
                elem_id="qa-sources",
                js_on_load=theme.SOURCES_JS,
                server_functions=[open_document],
            )
    return ChatTab(bot=bot, box=box, send=send, new=new, sources=sources)


def _conversation() -> tuple[gr.Chatbot, gr.Textbox, gr.Button, gr.Button]:
    """The chat window, the ask box with its button, and the tip with "New chat"."""
    import gradio as gr

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
    return bot, box, send, new


def wire_chat(tab: ChatTab, chat: ChatHandlers, session: gr.State) -> None:
    """Asking (Enter, the button, an example) streams into the chat; a new chat cancels it."""
    ask: dict[str, Any] = {
        "fn": chat.respond,
        "inputs": [tab.box, session],
        "outputs": [tab.box, tab.bot, tab.sources, session],
        "concurrency_limit": 8,
        "concurrency_id": "chat",
        "show_progress": "minimal",
        "api_visibility": "private",
    }
    asking = [
        tab.box.submit(**ask),
        tab.send.click(**ask),
        tab.bot.example_select(chat.example, None, tab.box, api_visibility="private").then(**ask),
    ]
    reset = [tab.bot, tab.sources, session, tab.box]
    # a new chat stops an answer still streaming, or it would write the old session back
    tab.new.click(chat.clear, None, reset, cancels=asking, api_visibility="private")
    tab.bot.clear(chat.clear, None, reset, cancels=asking, api_visibility="private")
