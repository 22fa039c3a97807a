"""The Documents tab: drop files to add them, the table of documents, delete and re-index.

Layout and wiring only; the work is ui/library.py's `Library`. Every write shares one
queue (`concurrency_id="write"`), so two uploads never ingest at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ui import uploads

if TYPE_CHECKING:
    import gradio as gr

    from ui.library import Library


@dataclass(frozen=True)
class DocumentsTab:
    """The components of the Documents tab that events read or write."""

    files: gr.File
    report: gr.HTML
    table: gr.HTML
    picker: gr.Dropdown
    delete: gr.Button
    reindex: gr.Button


def documents_tab(library: Library) -> DocumentsTab:
    """Lay out the tab: the drop zone and its report (left), the documents (right)."""
    import gradio as gr

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
    return DocumentsTab(files, report, table, picker, delete, reindex)


def library_outputs(tab: DocumentsTab, status: gr.HTML) -> list[Any]:
    """What every library action refreshes: its report, the table, the picker, the status."""
    return [tab.report, tab.table, tab.picker, status]


def wire_documents(tab: DocumentsTab, library: Library, status: gr.HTML) -> None:
    """Upload, delete and re-index, each a named API endpoint, one write at a time."""
    lib_out = library_outputs(tab, status)
    write: dict[str, Any] = {
        "concurrency_limit": 1,
        "concurrency_id": "write",
        "show_progress_on": tab.report,  # one progress bar, not one per output
    }
    tab.files.upload(library.upload, tab.files, lib_out, api_name="upload", **write).then(
        lambda: None, None, tab.files, api_visibility="private"
    )
    tab.delete.click(library.delete, tab.picker, lib_out, api_name="delete", **write)
    tab.reindex.click(library.reindex, None, lib_out, api_name="reindex", **write)
