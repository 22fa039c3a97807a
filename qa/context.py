"""What a sentence's neighbours say about the question, from vectors already computed.

The sentence that answers is often the one after the sentence that matches the question
("Caro Quintero was released in 2013." then "He returned to drug trafficking until he was
arrested in 2022."): its own cosine is middling because it says "he", but its neighbour's is
high. Neighbours are the units just before and after it in the same document, so this
costs no embedding at ask time.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from qa.units import Sentence

ADJACENT = 3  # at most this many characters (whitespace) between two neighbouring sentences


def neighbours(units: Sequence[Sentence]) -> list[list[int]]:
    """For each unit, the indices of the units right before and after it in its document."""
    by_doc: dict[str, list[int]] = {}
    for i, u in enumerate(units):
        by_doc.setdefault(u.passage.path, []).append(i)
    found: list[list[int]] = [[] for _ in units]
    for idx in by_doc.values():
        idx.sort(key=lambda i: units[i].start)
        for a, b in pairwise(idx):
            if 0 <= units[b].start - units[a].end <= ADJACENT:
                found[a].append(b)
                found[b].append(a)
    return found


def neighbour_cosine(units: Sequence[Sentence], cosines: Sequence[float]) -> list[float]:
    """The higher cosine of a unit's two neighbours; 0 when neither was retrieved."""
    return [max((cosines[j] for j in near), default=0.0) for near in neighbours(units)]
