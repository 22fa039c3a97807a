"""HTML for the chat: answers with clickable [n] markers, source cards, retrieval tables.

Every string that came from a document, a file name or a user passes through `esc`
before it meets markup, because a document may contain `<script>` or `<img onerror>`
and the sources panel is set with innerHTML. Pure functions, no gradio: easy to test.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from qa import Answer, Citation, DocumentInfo, IngestReport

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
CONTEXT_CHARS = 260  # shown on each side of a quote in a source card
DOC_WINDOW = 150_000  # the whole-document view shows at most this much around the span


def esc(value: object) -> str:
    """Escape text for element content and quoted attribute values alike."""
    return html.escape(str(value), quote=True)


def _display(text: str) -> str:
    """Escaped, with runs of whitespace folded: for compact inline display only."""
    return esc(re.sub(r"\s+", " ", text))


def user_html(question: str) -> str:
    return f'<div class="qa-q">{esc(question)}</div>'


def _markers(text: str, turn: int | None, cites: Mapping[int, Citation]) -> str:
    """Escape `text`, turning each known [n] into a link to its source card."""
    out: list[str] = []
    pos = 0
    for m in MARKER.finditer(text):
        out.append(esc(text[pos : m.start()]))
        links = []
        for num in (int(x) for x in m.group(1).split(",")):
            c = cites.get(num)
            if c is None or turn is None:
                links.append(f'<span class="qa-cite qa-pending">{num}</span>')
                continue
            tip = f"{c.source}: “{c.quote[:160]}”"
            links.append(
                f'<a class="qa-cite" href="#qa-c-{turn}-{num}" data-turn="{turn}" '
                f'data-n="{num}" title="{esc(tip)}">{num}</a>'
            )
        out.append("".join(links))
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def answer_html(answer: Answer, turn: int) -> str:
    """The final answer bubble: refusals look different, markers link to sources."""
    notice = f'<div class="qa-notice">{esc(answer.notice)}</div>' if answer.notice else ""
    if not answer.answered:
        return (
            f'<div class="qa-answer qa-refusal" data-turn="{turn}">'
            '<div class="qa-refusal-head">Not in the documents</div>'
            f"<div>{esc(answer.text)}</div>"
            '<div class="qa-hint">The closest passages are listed under Retrieval.</div>'
            f"{notice}</div>"
        )
    cites = {c.n: c for c in answer.citations}
    body = _markers(answer.text, turn, cites)
    return f'<div class="qa-answer" data-turn="{turn}">{short_html(answer)}{body}{notice}</div>'


def short_html(answer: Answer) -> str:
    """The answer phrase itself, bold, above the cited sentences (none: empty)."""
    if answer.short is None:
        return ""
    return f'<div class="qa-short"><b>{esc(answer.short.quote)}</b></div>'


def _quote_html(c: Citation, short: Citation | None) -> str:
    """The quote, with the short answer inside it highlighted when it lies there."""
    if short is None or short.path != c.path or not (c.start <= short.start < short.end <= c.end):
        return _display(c.quote)
    a, b = short.start - c.start, short.end - c.start
    return (
        f'{_display(c.quote[:a])}<strong class="qa-short-in">{_display(c.quote[a:b])}</strong>'
        f"{_display(c.quote[b:])}"
    )


def partial_html(text: str) -> str:
    """An answer still streaming: markers shown but not yet linked."""
    return f'<div class="qa-answer qa-streaming">{_markers(text, None, {})}</div>'


def waiting_html() -> str:
    """Shown the moment a question is sent, until the first words arrive."""
    return '<div class="qa-answer qa-streaming qa-wait">Searching the documents…</div>'


def error_html(message: str) -> str:
    return f'<div class="qa-answer qa-error">{esc(message)}</div>'


def _cut(text: str, start: int, end: int) -> tuple[str, str]:
    """Up to CONTEXT_CHARS before and after the span, cut at word boundaries."""
    lo, hi = max(0, start - CONTEXT_CHARS), min(len(text), end + CONTEXT_CHARS)
    before, after = text[lo:start], text[end:hi]
    if lo > 0:
        before = "…" + before.split(" ", 1)[-1] if " " in before else "…" + before
    if hi < len(text):
        after = after.rsplit(" ", 1)[0] + "…" if " " in after else after + "…"
    return before, after


def citation_card(
    turn: int, c: Citation, text: str | None, title: str = "", short: Citation | None = None
) -> str:
    """One source: file, page, score and the quote highlighted in its surrounding text."""
    if text is not None and text[c.start : c.end] == c.quote:
        before, after = _cut(text, c.start, c.end)
    else:  # the document changed or vanished since the answer: show the quote alone
        before, after = "", ""
    page = f'<span class="qa-tag">p. {c.page}</span>' if c.page else ""
    head = esc(title) if title and title != c.source else esc(c.source)
    sub = f'<div class="qa-file">{esc(c.source)}</div>' if head != esc(c.source) else ""
    return (
        f'<article class="qa-card" id="qa-c-{turn}-{c.n}" data-n="{c.n}">'
        f'<header><span class="qa-n">{c.n}</span><div class="qa-head"><b>{head}</b>{sub}</div>'
        f'{page}<span class="qa-tag" title="answer-sentence score">{c.score:.2f}</span></header>'
        f'<blockquote class="qa-context">{_display(before)}<mark>{_quote_html(c, short)}</mark>'
        f"{_display(after)}</blockquote>"
        f'<footer><span>chars {c.start:,}–{c.end:,}</span><button class="qa-open" '
        f'data-path="{esc(c.path)}" data-start="{c.start}" data-end="{c.end}">'
        "Open document ↗</button></footer></article>"
    )


def retrieval_html(answer: Answer) -> str:
    """What was searched and how each retriever ranked each passage."""
    rows = []
    for i, p in enumerate(answer.retrieved, 1):
        snippet = _display(p.text[:180] + ("…" if len(p.text) > 180 else ""))
        cited = any(c.path == p.path and p.start <= c.start < p.end for c in answer.citations)
        mark = ' class="qa-cited" title="quoted in the answer"' if cited else ""
        page = f" p.{p.page}" if p.page else ""
        rows.append(
            f"<tr{mark}><td>{i}</td><td><b>{esc(p.source)}{page}</b><div>{snippet}</div></td>"
            f"<td>{p.dense_rank or '–'}</td><td>{p.bm25_rank or '–'}</td>"
            f"<td>{p.score:.4f}</td></tr>"
        )
    searched = ""
    if answer.search_query and answer.search_query != answer.question:
        searched = f'<p class="qa-searched">Searched for: “{esc(answer.search_query)}”</p>'
    times = " · ".join(f"{k} {v:,.0f} ms" for k, v in answer.timings_ms.items())
    return (
        f'<details class="qa-retrieval"><summary>Retrieval · {len(answer.retrieved)} passages'
        f"</summary>{searched}<table><thead><tr><th>#</th><th>passage</th><th>dense</th>"
        f"<th>BM25</th><th>fused</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<p class="qa-times">{esc(answer.mode)} · {esc(times)}</p></details>'
    )


def turn_html(
    turn: int, answer: Answer, text_of: Callable[[str], str | None], titles: Mapping[str, str]
) -> str:
    """The sources panel section of one answer (hidden unless it is the active turn)."""
    cards = [
        citation_card(turn, c, text_of(c.path), titles.get(c.path, ""), answer.short)
        for c in answer.citations
    ]
    if not cards:
        cards = ['<p class="qa-empty">No passage supports an answer to this question.</p>']
    return (
        f'<section class="qa-turn" data-turn="{turn}"><h4>Sources for “{_display(answer.question)}”'
        f"</h4>{''.join(cards)}{retrieval_html(answer)}</section>"
    )


def panel_html(turns: Sequence[str], active: int | None = None) -> str:
    """All kept turns; CSS shows only the active one, the JS switches on a marker click."""
    if not turns:
        return (
            '<div class="qa-panel"><p class="qa-empty">Sources appear here: every quote an '
            "answer rests on, highlighted in its surrounding text.</p></div>"
        )
    active = len(turns) - 1 if active is None else active
    body = "".join(
        t.replace('class="qa-turn"', 'class="qa-turn qa-active"', 1) if i == active else t
        for i, t in enumerate(turns)
    )
    return f'<div class="qa-panel">{body}</div>'


def document_html(source: str, text: str, start: int, end: int) -> str:
    """The whole document (or a large window of it) with the cited span marked."""
    lo = max(0, start - DOC_WINDOW // 2)
    hi = min(len(text), max(end, lo + DOC_WINDOW))
    before = f"[… {lo:,} characters before]\n" if lo else ""
    after = f"\n[… {len(text) - hi:,} characters after]" if hi < len(text) else ""
    return (
        f'<div class="qa-doc-head"><b>{esc(source)}</b> · {len(text):,} characters</div>'
        f'<pre class="qa-doc">{esc(before)}{esc(text[lo:start])}<mark id="qa-doc-mark">'
        f"{esc(text[start:end])}</mark>{esc(text[end:hi])}{esc(after)}</pre>"
    )


def status_html(status: Mapping[str, Any]) -> str:
    """Mode, model and index size, as small pills in the header."""
    mode = "LLM" if status.get("llm") == "openai" else "extractive (offline)"
    model = status.get("llm_model")
    pills = [
        _plural(int(status.get("documents") or 0), "document"),
        _plural(int(status.get("chunks") or 0), "chunk"),
        f"mode: {mode}" + (f" · {model}" if model else ""),
    ]
    return '<div class="qa-status">' + "".join(f"<span>{esc(p)}</span>" for p in pills) + "</div>"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def title_of(d: DocumentInfo) -> str:
    """The loader's title, without a Markdown heading's leading #s."""
    return (d.title or "").lstrip("#").strip() or d.source


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def documents_html(docs: Sequence[DocumentInfo]) -> str:
    """The indexed documents: title and file, chunk count, pages, size, when ingested."""
    if not docs:
        return '<p class="qa-empty">No documents yet. Drop files on the left to add some.</p>'
    rows = []
    for d in docs:
        when = datetime.fromtimestamp(d.ingested_at).strftime("%Y-%m-%d %H:%M")
        title = esc(title_of(d))
        rows.append(
            f'<tr><td><b title="{title}">{title}</b><div class="qa-file" title="{esc(d.path)}">'
            f"{esc(d.source)}</div></td><td>{d.chunks}</td><td>{d.pages or '–'}</td>"
            f"<td>{_size(d.size)}</td><td>{when}</td></tr>"
        )
    total = _plural(sum(d.chunks for d in docs), "chunk")
    return (
        '<div class="qa-docs-wrap"><table class="qa-docs"><thead><tr><th>Document</th>'
        f"<th>Chunks</th><th>Pages</th><th>Size</th><th>Ingested</th></tr></thead><tbody>{''.join(rows)}</tbody>"
        f'<tfoot><tr><td colspan="5">{_plural(len(docs), "document")} · {total}</td></tr>'
        "</tfoot></table></div>"
    )


def ingest_html(rejected: Sequence[tuple[str, str]], report: IngestReport | None) -> str:
    """One line per file (problems first, with why), under a one-line summary."""
    bad = [f'<li class="qa-bad"><b>{esc(n)}</b>: {esc(why)}</li>' for n, why in rejected]
    ok: list[str] = []
    for f in report.files if report else []:
        detail = f.status + (f", {_plural(f.chunks, 'chunk')}" if f.chunks else "")
        detail += f": {f.reason}" if f.reason else ""
        line = f"<b>{esc(f.path.rsplit('/', 1)[-1])}</b>: {esc(detail)}"
        failed = f.status in ("failed", "skipped", "duplicate")
        (bad if failed else ok).append(f'<li class="{"qa-bad" if failed else "qa-ok"}">{line}</li>')
    if not bad and not ok:
        return ""
    summary = ""
    if report is not None:
        counts = [f"{report.added} added", f"{report.updated} updated"]
        counts += [f"{report.unchanged} unchanged", f"{report.removed} removed"]
        counts.append(f"{len(bad)} not indexed")
        summary = f'<p class="qa-summary">{" · ".join(counts)} · {_plural(report.chunks, "chunk")}'
        summary += " written</p>"
    done = "".join(ok)
    if len(ok) > 6:
        done = (
            f"<li><details><summary>{len(ok)} files indexed</summary><ul>{done}</ul></details></li>"
        )
    return f'{summary}<ul class="qa-report">{"".join(bad)}{done}</ul>'
