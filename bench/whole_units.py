"""Share of an eval run's citations that are a whole sentence or a whole table row.

    python -m bench.whole_units EVAL.json      (the file `qa eval --json` wrote)

Whole: it starts at a line start or after a sentence end, not with a lower-case letter, and
ends with sentence punctuation or at a line end with a figure (a labelled row). The texts
are read with the current loader, so run it on an eval made with the same loader version.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from index.loaders import load

_ROW_END = re.compile(r"(\d|—|\)|%)$")
_AFTER_SENTENCE = re.compile(r"[.!?][\"”’)]?\s+$")


def is_whole(text: str, start: int, end: int) -> bool:
    at_line_start = start == 0 or text[start - 1] == "\n"
    at_line_end = end == len(text) or text[end] == "\n"
    starts = at_line_start or bool(_AFTER_SENTENCE.search(text[max(0, start - 4) : start]))
    starts = starts and not text[start].islower()
    ends = text[end - 1] in '.!?:;"”’)' or (at_line_end and bool(_ROW_END.search(text[start:end])))
    return starts and ends


def main() -> None:
    texts: dict[str, str] = {}
    whole = total = 0
    for row in json.loads(Path(sys.argv[1]).read_text())["rows"]:
        for c in row["citations"]:
            text = texts.setdefault(c["path"], load(Path(c["path"])).text)
            if text[c["start"] : c["end"]] != c["quote"]:
                sys.exit(f"{c['path']}: text differs from the eval's (another loader version?)")
            total += 1
            whole += is_whole(text, c["start"], c["end"])
    print(f"{whole}/{total} = {whole / max(total, 1):.3f} whole sentences or table rows")


if __name__ == "__main__":
    main()
