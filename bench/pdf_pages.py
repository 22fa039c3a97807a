"""PDF reading speed: pages per CPU-second of the loader against plain pypdf on the same files.

    python -m bench.pdf_pages DIR... [--json OUT]

CPU seconds (not wall) so the figure holds on a shared machine. The reference is what the
loader did before it used PDFium: pypdf's `extract_text()` on every page. A file the
reference cannot read is reported and left out of both totals, so the ratio compares the
same pages.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def _pypdf_pages(path: Path) -> int:
    from pypdf import PdfReader

    reader = PdfReader(path)
    for page in reader.pages:
        page.extract_text()
    return len(reader.pages)


def _loader_pages(path: Path) -> int:
    from index.loaders import load

    return len(load(path).pages)


def _timed(fn: Any, path: Path) -> tuple[int, float] | str:
    start = time.process_time()
    try:
        pages = fn(path)
    except Exception as e:  # a reference that cannot read a file is a finding, not a crash
        return f"{type(e).__name__}: {str(e)[:80]}"
    return pages, time.process_time() - start


def measure(paths: list[Path]) -> dict[str, Any]:
    files: list[dict[str, Any]] = []
    for path in paths:
        files.append(
            {
                "file": path.name,
                "pypdf": _timed(_pypdf_pages, path),
                "loader": _timed(_loader_pages, path),
            }
        )
    both = [
        f for f in files if not isinstance(f["pypdf"], str) and not isinstance(f["loader"], str)
    ]
    out: dict[str, Any] = {"files": files}
    for name in ("pypdf", "loader"):
        pages = sum(f[name][0] for f in both)
        cpu = sum(f[name][1] for f in both)
        out[name] = {
            "pages": pages,
            "cpu_s": round(cpu, 2),
            "pages_per_cpu_s": round(pages / cpu, 1),
        }
    ok = [f for f in files if not isinstance(f["loader"], str)]
    out["loader_all"] = {
        "files": len(ok),
        "pages": sum(f["loader"][0] for f in ok),
        "cpu_s": round(sum(f["loader"][1] for f in ok), 2),
    }
    out["speedup"] = round(out["loader"]["pages_per_cpu_s"] / out["pypdf"]["pages_per_cpu_s"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    paths = sorted(p for d in args.dirs for p in d.glob("*.pdf"))
    result = measure(paths)
    for f in result["files"]:
        print(f"{f['file']:24s} pypdf {f['pypdf']!s:40.40s} loader {f['loader']}")
    for name in ("pypdf", "loader"):
        r = result[name]
        print(f"{name}: {r['pages']} pages in {r['cpu_s']} CPU s = {r['pages_per_cpu_s']} pages/s")
    print(f"loader / pypdf: {result['speedup']}x; loader read {result['loader_all']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
