"""The documents tab: upload and ingest with a progress bar, list, delete, re-index.

Every handler returns the same four outputs (report, table, picker, status) so that the
list, the delete picker and the header's index size never disagree after a change.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from qa import Engine, IngestReport, QAError
from ui import render, uploads

log = logging.getLogger(__name__)


class Library:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.folder = Path(engine.settings.data_dir) / "uploads"
        self.max_mb = float(engine.settings.max_upload_mb)

    def status(self) -> str:
        try:
            return render.status_html(self.engine.status())
        except QAError as e:
            return render.error_html(str(e))

    def views(self, report: str = "") -> tuple[Any, ...]:
        """(report, documents table, delete picker, status) reflecting the index now."""
        try:
            docs = self.engine.sources()
        except QAError as e:
            return render.error_html(str(e)), "", gr.Dropdown(choices=[]), self.status()
        choices = [(f"{render.title_of(d)} ({d.source})", d.path) for d in docs]
        picker = gr.Dropdown(choices=choices, value=None)
        return report, render.documents_html(docs), picker, self.status()

    def _ingest(self, paths: list[Path], progress: gr.Progress, what: str) -> IngestReport:
        progress(0, desc=f"{what} {len(paths)} file(s)…")

        def step(done: int, total: int, name: str) -> None:
            progress(done / max(total, 1), desc=f"{what} {name}")

        return self.engine.ingest(paths, progress=step)

    def upload(
        self,
        files: list[str] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[Any, ...]:
        """Store the uploads under the data dir, then ingest them."""
        if not files:
            return self.views(render.ingest_html([("(nothing)", "no file was uploaded")], None))
        pairs = [(Path(f).name, Path(f)) for f in files]
        saved, rejected = uploads.save(pairs, self.folder, self.max_mb)
        report = None
        if saved:
            try:
                report = self._ingest(saved, progress, "Indexing")
            except QAError as e:
                rejected += [(p.name, str(e)) for p in saved]
        return self.views(render.ingest_html(rejected, report))

    def delete(self, path: str | None) -> tuple[Any, ...]:
        """Remove a document from the index (and its stored copy if it was uploaded here)."""
        if not path:
            return self.views(render.ingest_html([("(nothing)", "pick a document first")], None))
        try:
            n = self.engine.remove(path)
        except QAError as e:
            return self.views(render.ingest_html([(Path(path).name, str(e))], None))
        if uploads.is_upload(path, self.folder):
            Path(path).unlink(missing_ok=True)
        msg = f'<ul class="qa-report"><li class="qa-ok"><b>{render.esc(Path(path).name)}</b>'
        return self.views(f"{msg}: removed ({n} chunks)</li></ul>")

    def reindex(self, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        """Re-read every indexed file: changed ones are re-embedded, vanished ones removed."""
        try:
            paths = [Path(d.path) for d in self.engine.sources()]
            if not paths:
                return self.views('<p class="qa-empty">The index is empty.</p>')
            report = self._ingest(paths, progress, "Checking")
        except QAError as e:
            return self.views(render.ingest_html([("re-index", str(e))], None))
        return self.views(render.ingest_html([], report))
