"""The guard between a model's reply and the user: only claims the documents state are shown.

Every claim of the reply (qa.support.split_claims) gets one verdict, whatever the model's
own `[n]` markers say (they are ignored: the citation is ours):

- echo: it reproduces the prompt (delimiters, the instructions, "Question: ..."): never shown;
- refusal: the model says, in any words, that the passages do not hold the answer;
- question / restatement: a question, or nothing the question did not already say;
- repeat: nothing a claim already shown did not say (small models loop);
- unsupported: no sentence of the retrieved passages states it (score < SUPPORT_THRESHOLD):
  left out of the answer and counted in the notice, never shown as fact;
- supported: shown, followed by the citation of its best-supporting sentence, an exact span.

The caller decides the answer: supported claims -> answered; none, but a refusal -> refused;
none at all -> the extractive answer with a notice (see qa.llm).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from qa import support
from qa.citing import Citer, is_refusal
from qa.prompt import ANSWER_REQUEST, CONDENSE_PROMPT, PASSAGES_HEADER, SYSTEM_PROMPT
from qa.types import REFUSAL_TEXT

Kind = Literal[
    "supported", "unsupported", "echo", "refusal", "question", "restatement", "repeat", "empty"
]
SHOWN: frozenset[str] = frozenset({"supported"})
MAX_SHOWN = 3  # "at most three sentences": the reply is not read further
MAX_CLAIMS = 8  # claims examined before the reply is cut (a rambling model stops here)
ECHO_OVERLAP = 0.5  # share of a claim's word trigrams found in our instructions
REFUSAL_COSINE = 0.72

_ECHO = re.compile(
    r"<<|>>|‹‹|››|\[n\]|\bEND[ _]PASSAGE\b|\bPASSAGE\s+\d+\s*:|^\s*(?:question|answer|passages?|"
    r"system|user|assistant|rules?|conversation|standalone question)\s*:",
    re.IGNORECASE,
)
_REFUSING = re.compile(
    r"\b(?:i'?m sorry|i am sorry|unfortunately|i (?:do not|don't) (?:know|have)|"
    r"no (?:information|mention|details?|data|answer|record)\b|not (?:specified|mentioned|"
    r"provided|stated|given|available|clear|known)\b|(?:does|do|did) ?(?:not|n't) (?:say|specify|"
    r"mention|state|provide|contain|include|give|tell|answer)|there is no\b|cannot be (?:determined"
    r"|answered|found)|is unknown\b|not able to (?:find|answer|determine))",
    re.IGNORECASE,
)
REFUSAL_EXAMPLES = (
    REFUSAL_TEXT,
    "The passages do not contain this information.",
    "I don't know the answer to that question.",
    "There is no information about this in the documents.",
    "I'm sorry, but I cannot answer this question from the given text.",
    "The text does not mention it.",
)
_INSTRUCTIONS = " ".join(
    [SYSTEM_PROMPT.replace(REFUSAL_TEXT, ""), CONDENSE_PROMPT, PASSAGES_HEADER, ANSWER_REQUEST]
)


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


_INSTRUCTION_TRIGRAMS = _trigrams(_INSTRUCTIONS)


def is_echo(claim: str) -> bool:
    """The claim reproduces our prompt's delimiters or instructions."""
    if _ECHO.search(claim):
        return True
    grams = _trigrams(claim)
    return bool(grams) and len(grams & _INSTRUCTION_TRIGRAMS) >= ECHO_OVERLAP * len(grams)


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    claim: str  # markers and bullets stripped
    citation: int | None = None
    score: float = 0.0

    @property
    def shown(self) -> str:
        """The claim as the answer shows it: its citation before the final punctuation."""
        if self.citation is None:
            return ""
        body = self.claim.rstrip()
        end = re.search(r"[.!?…]+[\"'”’)]*$", body)
        cut = end.start() if end else len(body)
        return f"{body[:cut].rstrip()} [{self.citation}]{body[cut:] if end else '.'}"


@dataclass
class Guard:
    """Checks the claims of one reply, in order; numbers citations through `citer`."""

    citer: Citer
    question: str
    threshold: float = support.SUPPORT_THRESHOLD
    verdicts: list[Verdict] = field(default_factory=list)
    _said: set[str] = field(default_factory=set)

    @property
    def counts(self) -> Counter[str]:
        return Counter(v.kind for v in self.verdicts)

    @property
    def done(self) -> bool:
        """Enough read: three claims shown, or MAX_CLAIMS examined."""
        return self.counts["supported"] >= MAX_SHOWN or len(self.verdicts) >= MAX_CLAIMS

    def check(self, raw: str) -> Verdict:
        verdict = self._judge(raw)
        self.verdicts.append(verdict)
        if verdict.kind == "supported":
            self._said |= support.content(verdict.claim)
        return verdict

    def _judge(self, raw: str) -> Verdict:
        claim = support.plain(raw)
        if not re.search(r"\w", claim):
            return Verdict("empty", claim)
        if is_refusal(claim, cited=False) and not _ECHO.search(claim):
            return Verdict("refusal", claim)
        if is_echo(claim):
            return Verdict("echo", claim)
        if claim.rstrip().endswith("?"):
            return Verdict("question", claim)
        said = support.content(claim)
        if not said - support.content(self.question):
            return Verdict("restatement", claim)
        if self._said and said <= self._said:
            return Verdict("repeat", claim)
        found = support.best_support(claim, self.question, self.citer.sentences(), self.citer.embed)
        score = found.score if found else 0.0
        if found is not None and score >= self.threshold:
            n = self.citer.cite_sentence(found.sentence, score)
            if n is not None:  # else not an exact span of its document: never shown
                return Verdict("supported", claim, n, score)
        # "The passages do not mention his age" in the model's own words
        kind: Kind = "refusal" if self._refuses(claim) else "unsupported"
        return Verdict(kind, claim, score=score)

    def _refuses(self, claim: str) -> bool:
        if _REFUSING.search(claim):
            return True
        vectors = self.citer.embed([claim, *REFUSAL_EXAMPLES])
        best = max(sum(a * b for a, b in zip(vectors[0], v, strict=True)) for v in vectors[1:])
        return best >= REFUSAL_COSINE

    def notice(self) -> str | None:
        """What the guard held back, for the answer's notice (None: nothing)."""
        c = self.counts
        parts = []
        if c["unsupported"]:
            n = c["unsupported"]
            parts.append(
                f"Left out {n} sentence{'s' if n > 1 else ''} of the model's reply that the "
                "documents do not support."
            )
        if c["echo"]:
            parts.append("Left out text in which the model repeated its instructions.")
        return " ".join(parts) or None


class ClaimReader:
    """Reads the model's deltas claim by claim; yields each supported claim, cited."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.text = ""  # the raw reply, as far as it was read
        self.seconds = 0.0  # spent checking claims

    def read(self, deltas: Iterator[str]) -> Iterator[str]:
        rest = ""
        for delta in deltas:
            self.text += delta
            claims, rest = support.split_claims(rest + delta)
            for claim in claims:
                if shown := self._check(claim):
                    yield shown
                if self.guard.done:
                    return  # enough: the rest of the reply is never generated
        if rest.strip() and (shown := self._check(rest)):
            yield shown

    def _check(self, claim: str) -> str:
        t0 = time.perf_counter()
        verdict = self.guard.check(claim)
        self.seconds += time.perf_counter() - t0
        return verdict.shown
