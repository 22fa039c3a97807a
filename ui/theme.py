"""Look and behaviour of the page: the theme, the CSS and the sources panel's script.

The script is small and does two things the server cannot: scroll the sources panel to
citation n when a [n] marker is clicked, and show a whole document in an overlay with
the cited span scrolled into view. All HTML it inserts was escaped by ui/render.py.
"""

from __future__ import annotations

from typing import Any


def theme() -> Any:
    """Gradio's Soft theme with local fonts only: the app must work offline."""
    import gradio as gr

    return gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica Neue", "Arial", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


SOURCES_JS = r"""
const findCard = (turn, n) => document.querySelector(`#qa-sources #qa-c-${turn}-${n}`);
if (!window.__qaCites) {
  window.__qaCites = true;
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a.qa-cite');
    if (!a) return;
    e.preventDefault(); e.stopPropagation();
    const m = (a.getAttribute('href') || '').match(/qa-c-(\d+)-(\d+)/);
    const turn = a.dataset.turn || (m && m[1]), n = a.dataset.n || (m && m[2]);
    document.querySelectorAll('#qa-sources .qa-turn').forEach(
      (s) => s.classList.toggle('qa-active', s.dataset.turn === String(turn)));
    const card = findCard(turn, n);
    if (!card) return;
    const panel = card.closest('.qa-panel');
    if (panel) panel.scrollTo({top: card.offsetTop - 8, behavior: 'smooth'});
    setTimeout(() => card.scrollIntoView({behavior: 'smooth', block: 'nearest'}), 400);
    card.classList.remove('qa-flash'); void card.offsetWidth; card.classList.add('qa-flash');
  }, true);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') document.getElementById('qa-doc-overlay')?.remove();
  });
}
const overlayBody = () => {
  let ov = document.getElementById('qa-doc-overlay');
  if (!ov) {
    ov = document.createElement('div');
    ov.id = 'qa-doc-overlay';
    ov.className = 'qa-overlay';
    ov.innerHTML = '<div class="qa-modal" role="dialog" aria-modal="true">' +
      '<button class="qa-close" aria-label="Close">×</button>' +
      '<div class="qa-modal-body"></div></div>';
    ov.addEventListener('click', (e) => {
      if (e.target === ov || e.target.closest('.qa-close')) ov.remove();
    });
    (document.querySelector('.gradio-container') || document.body).appendChild(ov);
  }
  return ov.querySelector('.qa-modal-body');
};
if (!element.dataset.qaBound) {
  element.dataset.qaBound = '1';
  element.addEventListener('click', async (e) => {
    const b = e.target.closest && e.target.closest('.qa-open');
    if (!b) return;
    e.preventDefault();
    const body = overlayBody();
    body.textContent = 'Loading…';
    try {
      body.innerHTML = await server.open_document(
        {path: b.dataset.path, start: Number(b.dataset.start), end: Number(b.dataset.end)});
    } catch (err) {
      body.textContent = 'Could not open the document.';
      return;
    }
    const mark = body.querySelector('#qa-doc-mark');
    if (mark) mark.scrollIntoView({block: 'center'});
  });
}
"""

CSS = r"""
.gradio-container { max-width: 1400px !important; }
#qa-header { align-items: center; gap: 12px; padding: 4px 2px 0; }
#qa-header h1 { margin: 0; font-size: 1.45rem; letter-spacing: -0.01em; }
#qa-header p { margin: 2px 0 0; color: var(--body-text-color-subdued); font-size: .92rem; }
.qa-status { display: flex; gap: 6px; flex-wrap: wrap; justify-content: flex-end; }
.qa-status span { font-size: .78rem; padding: 3px 10px; border-radius: 999px;
  background: var(--color-accent-soft); color: var(--color-accent); font-weight: 600;
  border: 1px solid var(--border-color-accent-subdued); white-space: nowrap; }
.qa-q { white-space: pre-wrap; }
.qa-answer { line-height: 1.6; }
.qa-answer.qa-streaming::after { content: '▍'; margin-left: 2px; opacity: .6;
  animation: qa-blink 1s steps(2) infinite; }
@keyframes qa-blink { 50% { opacity: 0; } }
.qa-answer.qa-wait { color: var(--body-text-color-subdued); font-style: italic; }
.qa-answer.qa-wait::after { content: none; }
a.qa-cite, .qa-cite { display: inline-flex; align-items: center; justify-content: center;
  min-width: 1.35em; height: 1.35em; padding: 0 .3em; margin: 0 1px 0 3px; border-radius: 999px;
  font-size: .74em; font-weight: 700; line-height: 1; vertical-align: .3em;
  background: var(--color-accent-soft); color: var(--color-accent) !important;
  text-decoration: none !important; border: 1px solid var(--color-accent);
  cursor: pointer; transition: background .15s, color .15s; }
a.qa-cite:hover { background: var(--color-accent); color: white !important; }
.qa-cite.qa-pending { opacity: .55; cursor: default; }
.qa-refusal, .qa-error { padding: 2px 0; }
#qa-chat .message.bot:has(.qa-refusal) { background: rgba(245, 158, 11, .10);
  border-color: rgba(245, 158, 11, .55); border-left: 4px solid #f59e0b; }
#qa-chat .message.bot:has(.qa-error) { background: rgba(239, 68, 68, .08);
  border-color: rgba(239, 68, 68, .5); border-left: 4px solid #ef4444; }
.qa-refusal-head { font-weight: 700; color: #b45309; font-size: .82rem; text-transform: uppercase;
  letter-spacing: .04em; margin-bottom: 2px; }
.qa-refusal-head::before { content: '⊘ '; }
.qa-hint { font-size: .82rem; color: var(--body-text-color-subdued); margin-top: 4px; }
.qa-notice { font-size: .8rem; margin-top: 6px; color: #b45309; }
.qa-short { font-size: 1.15rem; margin-bottom: 4px; }
.qa-short-in { background: #f59e0b; border-radius: 2px; }
#qa-sources { height: 100%; }
.qa-panel { position: relative; display: flex; flex-direction: column; gap: 10px; max-height: 640px;
  overflow-y: auto; padding: 2px 6px 2px 2px; }
.qa-turn { display: none; flex-direction: column; gap: 10px; }
.qa-turn.qa-active { display: flex; }
.qa-turn h4 { margin: 2px 0 0; font-size: .8rem; text-transform: uppercase; letter-spacing: .05em;
  color: var(--body-text-color-subdued); font-weight: 600; }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 10px;
  background: var(--block-background-fill); padding: 10px 12px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, .05); scroll-margin: 8px; }
.qa-card header { display: flex; align-items: center; gap: 8px; margin-bottom: 6px; }
.qa-head { flex: 1; min-width: 0; font-size: .9rem; line-height: 1.3; }
.qa-head b { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.qa-file { font-size: .74rem; color: var(--body-text-color-subdued); overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; font-family: var(--font-mono); }
.qa-n { flex: none; width: 1.6em; height: 1.6em; border-radius: 999px; display: inline-flex;
  align-items: center; justify-content: center; font-size: .78rem; font-weight: 700;
  background: var(--color-accent); color: white; }
.qa-tag { flex: none; font-size: .72rem; padding: 1px 7px; border-radius: 999px;
  border: 1px solid var(--border-color-primary); color: var(--body-text-color-subdued); }
.qa-context { margin: 0; padding: 0 0 0 10px; border-left: 3px solid var(--border-color-primary);
  font-size: .86rem; line-height: 1.55; color: var(--body-text-color-subdued); }
.qa-context mark, .qa-doc mark { background: #fde68a; color: #1f2937; padding: 1px 2px;
  border-radius: 3px; box-decoration-break: clone; -webkit-box-decoration-break: clone; }
.qa-card footer span { color: var(--body-text-color-subdued); }
.qa-card footer { display: flex; justify-content: space-between; align-items: center;
  margin-top: 8px; font-size: .74rem; color: var(--body-text-color-subdued); }
button.qa-open { border: none; background: none; color: var(--color-accent); cursor: pointer;
  font-size: .78rem; font-weight: 600; padding: 2px 4px; border-radius: 4px; }
button.qa-open:hover { background: var(--color-accent-soft); }
.qa-flash { animation: qa-flash 1.4s ease-out; }
@keyframes qa-flash { 0% { box-shadow: 0 0 0 3px var(--color-accent); }
  100% { box-shadow: 0 0 0 0 transparent; } }
.qa-empty { color: var(--body-text-color-subdued); font-size: .9rem; padding: 14px 4px; margin: 0; }
.qa-retrieval { border: 1px dashed var(--border-color-primary); border-radius: 10px;
  padding: 6px 10px; font-size: .8rem; }
.qa-retrieval summary { cursor: pointer; font-weight: 600; color: var(--body-text-color-subdued); }
.qa-retrieval table { width: 100%; border-collapse: collapse; margin-top: 6px; }
.qa-retrieval th, .qa-retrieval td { text-align: left; padding: 4px 6px; vertical-align: top;
  border-bottom: 1px solid var(--border-color-primary); }
.qa-retrieval td div { color: var(--body-text-color-subdued); font-size: .76rem; }
.qa-retrieval tr.qa-cited td:first-child { box-shadow: inset 3px 0 0 var(--color-accent); }
.qa-searched, .qa-times { margin: 6px 0 0; color: var(--body-text-color-subdued); }
.qa-overlay { position: fixed; inset: 0; background: rgba(15, 23, 42, .55); z-index: 2147483000;
  display: flex; align-items: center; justify-content: center; padding: 4vh 4vw; }
.gradio-container:has(#qa-doc-overlay) .scroll-down-button-container { display: none; }
.qa-modal { position: relative; background: var(--background-fill-primary); border-radius: 12px;
  width: min(920px, 100%); max-height: 88vh; display: flex; flex-direction: column;
  box-shadow: 0 20px 50px rgba(0, 0, 0, .3); }
.qa-modal-body { overflow-y: auto; padding: 18px 24px; }
.qa-close { position: absolute; top: 8px; right: 12px; border: none; background: none;
  font-size: 1.6rem; cursor: pointer; color: var(--body-text-color-subdued); }
.qa-doc-head { position: sticky; top: -18px; background: var(--background-fill-primary);
  padding: 6px 0 8px; font-size: .85rem; color: var(--body-text-color-subdued);
  border-bottom: 1px solid var(--border-color-primary); margin-bottom: 10px; }
.qa-doc { white-space: pre-wrap; word-wrap: break-word; font-family: var(--font);
  font-size: .92rem; line-height: 1.65; margin: 0; background: none; border: none; }
.qa-report { list-style: none; padding: 0; margin: 0; font-size: .88rem; }
.qa-report li { padding: 4px 8px; border-radius: 6px; margin-bottom: 4px; }
.qa-report li.qa-ok { background: rgba(34, 197, 94, .10); }
.qa-report li.qa-bad { background: rgba(239, 68, 68, .10); }
#qa-input textarea { font-size: 1rem; }
#qa-ask-row, #qa-doc-actions { align-items: flex-end; gap: 8px; }
#qa-ask-row > button { height: 46px; }
#qa-doc-actions > button { height: 42px; margin-bottom: 2px; }
#qa-under { align-items: center; margin-top: -4px; }
.qa-tip { margin: 0; font-size: .8rem; color: var(--body-text-color-subdued); }
#qa-chat .example { border: 1px solid var(--border-color-primary); border-radius: 10px;
  background: var(--background-fill-secondary); padding: 10px 14px; text-align: left;
  transition: border-color .15s, box-shadow .15s; }
#qa-chat .example:hover { border-color: var(--color-accent);
  box-shadow: 0 2px 8px rgba(79, 70, 229, .12); }
.qa-panel > .qa-empty { border: 1px dashed var(--border-color-primary); border-radius: 10px;
  padding: 28px 20px; text-align: center; }
.qa-docs, .qa-retrieval table, .qa-docs tr, .qa-retrieval tr { border: none !important; }
.qa-docs th, .qa-docs td, .qa-retrieval th, .qa-retrieval td { border: none !important;
  border-bottom: 1px solid var(--border-color-primary) !important; background: none; }
.qa-docs { width: 100%; border-collapse: collapse; font-size: .88rem; margin: 0; }
#qa-input { border: 1px solid var(--border-color-primary); border-radius: 10px; }
.qa-docs th { text-align: left; font-size: .74rem; text-transform: uppercase; letter-spacing: .05em;
  color: var(--body-text-color-subdued); padding: 6px 10px;
  border-bottom: 1px solid var(--border-color-primary); }
.qa-docs td { padding: 8px 10px; border-bottom: 1px solid var(--border-color-primary);
  vertical-align: top; white-space: nowrap; }
.qa-docs td:first-child { white-space: normal; width: 100%; max-width: 0; }
.qa-docs td:first-child b { display: block; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; font-weight: 600; }
.qa-docs tfoot td { color: var(--body-text-color-subdued); font-size: .8rem; border: none; }
.qa-docs-wrap { border: 1px solid var(--border-color-primary); border-radius: 10px;
  padding: 4px 8px; background: var(--block-background-fill); max-height: 480px;
  overflow-y: auto; }
.qa-summary { margin: 0 0 6px; font-size: .85rem; color: var(--body-text-color-subdued); }
.qa-report details summary { cursor: pointer; font-weight: 600; }
.qa-report details ul { list-style: none; padding: 0; margin: 6px 0 0; }
"""
