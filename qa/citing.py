"""A model's `[n]` markers -> checkable citations, rewritten while the reply streams.

Marker [n] names passage n of the prompt. It becomes the sentence of that passage (read
whole from the document, so chunk edges don't cut it) that best supports the claim just
before the marker, scored as the extractive answerer scores sentences. Citations are
numbered 1..n in order of first appearance and the text's markers are renumbered to match,
so the streamed text is the final text. A marker that names no passage, or no verifiable
span, is dropped from the text and counted. Invariant: quote == document_text[start:end].
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator

from qa import extractive
from qa.types import REFUSAL_TEXT, Citation, Passage

DocumentText = Callable[[str], "tuple[str, list] | None"]  # path -> (text, page spans)
Embed = Callable[[list[str]], list[list[float]]]

MIN_CLAIM_WORDS = 3  # a shorter claim ("Yes [1].") is scored together with the question

_NUM = r"#?\d{1,3}(?:\s*[-–]\s*\d{1,3})?"
_MARKER = re.compile(
    rf"\[\s*(?:(?:passages?|sources?|docs?)\s*)?({_NUM}(?:\s*(?:,|;|&|and)\s*{_NUM})*)\s*\]",
    re.IGNORECASE,
)
_MARKER_START = re.compile(r"\[[\w\s,;&#\-–]{0,30}")  # a '[' that may still become a marker
_CITED = re.compile(r"\[(\d+)\]")
_TRAILING_CITED = re.compile(r"(?:\[\d+\]\s*)+$")
_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
_CONTRAST = re.compile(r"\b(?:but|however|although|though|yet|except|only)\b", re.IGNORECASE)
_REFUSAL = re.compile(
    r"\b(?:could ?not|couldn't|can ?not|can't|cannot|unable to|was not able to)\s+"
    r"(?:find|locate|determine|answer|tell)"
    r"|\b(?:passages?|documents?|context|sources?|texts?)\s+(?:do|does|did)\s*(?:not|n't)\s+"
    r"(?:contain|mention|say|include|provide|state|specify|answer|cover)"
    r"|\bnot (?:found|mentioned|stated|given|provided|in) (?:in )?the (?:passages?|documents?|"
    r"context|sources?)|\bno (?:information|mention)\b",
    re.IGNORECASE,
)


class Citer:
    """Resolves the passage numbers cited after a claim into numbered, verified Citations."""

    def __init__(
        self, passages: list[Passage], question: str, document: DocumentText, embed: Embed
    ) -> None:
        self.passages = passages
        self.question = question
        self.citations: list[Citation] = []
        self.dropped = 0  # markers naming no passage (or nothing verifiable)
        self.seconds = 0.0  # time spent resolving, for timings
        self._document = document
        self._embed_texts = embed
        self._numbers: dict[tuple[str, int, int], int] = {}
        self._docs: dict[str, tuple[str, list] | None] = {}
        self._sentences: dict[int, list[extractive.Sentence]] = {}
        self._vectors: dict[str, list[float]] = {}

    def resolve(self, numbers: list[int], claim: str) -> list[int]:
        """Citation numbers for the passages `numbers` cited after `claim` (dropped: none)."""
        t0 = time.perf_counter()
        cited: list[int] = []
        for n in numbers:
            c = self._cite(n, claim) if 1 <= n <= len(self.passages) else None
            if c is None:
                self.dropped += 1
            elif c not in cited:
                cited.append(c)
        self.seconds += time.perf_counter() - t0
        return cited

    def _doc(self, path: str) -> tuple[str, list] | None:
        if path not in self._docs:
            self._docs[path] = self._document(path)
        return self._docs[path]

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embeddings, each text once per answer (a passage's sentences serve many claims)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self._embed_texts(missing), strict=True))
        return [self._vectors[t] for t in texts]

    _embed = embed

    def sentences(self) -> list[extractive.Sentence]:
        """Every sentence of every passage, each an exact span of its document text."""
        out: list[extractive.Sentence] = []
        for n, passage in enumerate(self.passages, start=1):
            if n not in self._sentences:
                self._sentences[n] = self._passage_sentences(passage)
            out += self._sentences[n]
        return out

    def _passage_sentences(self, passage: Passage) -> list[extractive.Sentence]:
        found = self._doc(passage.path)
        return extractive.passage_sentences([passage], lambda _: found[0] if found else None)

    def cite_sentence(self, s: extractive.Sentence, score: float) -> int | None:
        """The citation number of sentence `s` (None when it is not an exact document span)."""
        found = self._doc(s.passage.path)
        if found is None or found[0][s.start : s.end] != s.text:
            return None
        return self._number(s.passage, s.start, s.end, s.text, score)

    def _cite(self, n: int, claim: str) -> int | None:
        passage = self.passages[n - 1]
        found = self._doc(passage.path)
        text = found[0] if found else None
        if n not in self._sentences:
            self._sentences[n] = extractive.passage_sentences([passage], lambda _: text)
        query = claim if len(claim.split()) >= MIN_CLAIM_WORDS else f"{self.question} {claim}"
        for scored in extractive.score_sentences(query, self._sentences[n], self._embed):
            s = scored.sentence
            if text is not None and text[s.start : s.end] == s.text:
                return self._number(passage, s.start, s.end, s.text, scored.score)
        if text is not None and text[passage.start : passage.end] == passage.text:
            return self._number(passage, passage.start, passage.end, passage.text, 0.0)
        return None  # nothing in the document matches: never show an uncheckable quote

    def _number(self, p: Passage, start: int, end: int, quote: str, score: float) -> int:
        key = (p.path, start, end)
        if key not in self._numbers:
            self._numbers[key] = len(self.citations) + 1
            found = self._doc(p.path)
            pages = found[1] if found else []
            page = next((g.page for g in pages if g.start <= start < g.end), p.page)
            self.citations.append(
                Citation(
                    n=self._numbers[key],
                    source=p.source,
                    path=p.path,
                    quote=quote,
                    start=start,
                    end=end,
                    page=page,
                    score=round(score, 4),
                )
            )
        return self._numbers[key]


def claim_before(text: str) -> str:
    """The claim a marker at the end of `text` cites: its clause, else its whole sentence."""
    for part in reversed(_BREAK.split(text)):
        plain = " ".join(_CITED.sub(" ", part).split())
        if not re.search(r"\w", plain):
            continue  # only markers here ("… claim. [1]"): the claim is the sentence before
        tail = _CITED.split(part)[-1].strip(" ,;:") if _CITED.search(part) else plain
        return tail if len(tail.split()) >= MIN_CLAIM_WORDS else plain
    return ""


def marker_numbers(group: str) -> list[int]:
    """'1, 3' -> [1, 3]; '2-4' -> [2, 3, 4]."""
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|&|and)\s*", group):
        bounds = [int(x) for x in re.findall(r"\d+", part)]
        if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] <= 10:
            out.extend(range(bounds[0], bounds[1] + 1))
        else:
            out.extend(bounds)
    return out


class MarkerRewriter:
    """Rewrites the markers in a stream of text deltas, holding back only what could still
    turn out to be a marker and the whitespace before it (a dropped marker takes it along)."""

    def __init__(self, resolve: Callable[[list[int], str], list[int]]) -> None:
        self._resolve = resolve
        self._pending = ""
        self.text = ""  # everything emitted so far

    def feed(self, delta: str) -> str:
        self._pending += delta
        return self._drain(final=False)

    def close(self) -> str:
        return self._drain(final=True)

    def _drain(self, *, final: bool) -> str:
        out: list[str] = []
        while self._pending:
            pending = self._pending
            i = pending.find("[")
            if i < 0:
                cut = len(pending) if final else len(pending.rstrip())
                out.append(pending[:cut])
                self._pending = pending[cut:]
                break
            head, m = pending[:i], _MARKER.match(pending, i)
            if m:
                out.append(self._marker(head, m.group(1), self.text + "".join(out)))
                self._pending = pending[m.end() :]
            elif not final and _MARKER_START.fullmatch(pending, i):
                cut = len(head.rstrip())
                out.append(head[:cut])
                self._pending = pending[cut:]
                break
            else:  # a '[' that is no marker
                out.append(pending[: i + 1])
                self._pending = pending[i + 1 :]
        emitted = "".join(out)
        self.text += emitted
        return emitted

    def _marker(self, head: str, group: str, before: str) -> str:
        cited = self._resolve(marker_numbers(group), claim_before(before + head))
        if not head.strip():  # "[1][2]" whose passages give one sentence: cite it once
            tail = _TRAILING_CITED.search(before)
            shown = {int(x) for x in _CITED.findall(tail.group())} if tail else set()
            cited = [c for c in cited if c not in shown]
        if not cited:
            return head.rstrip(" \t")
        return head + "".join(f"[{c}]" for c in cited)


def strip_thinking(deltas: Iterable[str]) -> Iterator[str]:
    """Drop a leading <think>…</think> block that some reasoning models put in the content."""
    stream = iter(deltas)
    head = ""
    for delta in stream:
        head += delta
        lead = head.lstrip()
        if len(lead) < 7 and "<think>".startswith(lead):
            continue  # too short to tell yet
        if lead.startswith("<think>"):
            if "</think>" not in lead:
                continue
            lead = lead.split("</think>", 1)[1].lstrip()
            if not lead:
                continue
        yield lead
        yield from stream  # decided: the rest passes through untouched
        return


def is_refusal(text: str, cited: bool) -> bool:
    """The model said the passages do not hold the answer (not: a partial, cited answer)."""
    plain = " ".join(_CITED.sub("", text).split()).replace("’", "'")

    def norm(s: str) -> str:
        return re.sub(r"\W+", " ", s).strip().lower()

    if not plain or norm(plain) == norm(REFUSAL_TEXT):
        return True
    sentences = _BREAK.split(plain)
    if not _REFUSAL.search(sentences[0]):
        return False
    # "Not in the passages [1]." is a refusal; "They don't say why, but 29 went [1]." is not
    return not cited or (len(sentences) == 1 and not _CONTRAST.search(plain))
