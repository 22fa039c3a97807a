"""The house rules of DESIGN.md, checked on the source: who may import whom."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("index", "qa", "ui", "eval")


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import in a file, relative imports resolved."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [a.name for a in node.names]))
    return found


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).glob("*.py"))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("index", {"qa", "ui", "eval"}),
        ("qa", {"ui", "eval"}),
        ("ui", {"index", "eval"}),
        ("eval", {"index", "ui"}),
    ],
)
def test_no_forbidden_arrow(package: str, forbidden: set[str]) -> None:
    for f in files(package):
        for module, _ in imports(f):
            assert module.split(".")[0] not in forbidden, f"{f.name} imports {module}"


@pytest.mark.parametrize("package", ["ui", "eval"])
def test_ui_and_eval_use_only_the_public_qa_api(package: str) -> None:
    import qa

    for f in files(package):
        for module, names in imports(f):
            if module.split(".")[0] == "qa":
                assert module == "qa", f"{f.name} reaches into {module}"
                assert set(names) <= set(qa.__all__), f"{f.name}: {set(names) - set(qa.__all__)}"


def test_nobody_imports_eval_or_index_bare() -> None:
    for package in PACKAGES:
        for f in files(package):
            for module, _ in imports(f):
                assert module not in ("eval", "index") or (package == "qa" and module == "index")


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_complete(package: str) -> None:
    """Every exported name resolves; every public class or function of ours is exported."""
    mod = importlib.import_module(package)
    for name in mod.__all__:
        assert getattr(mod, name) is not None
    ours = {
        n
        for n, v in vars(mod).items()
        if not n.startswith("_") and getattr(v, "__module__", "").split(".")[0] in PACKAGES
    }
    assert ours <= set(mod.__all__), ours - set(mod.__all__)


def test_cli_start_imports_nothing_heavy() -> None:
    heavy = "('torch', 'chromadb', 'gradio', 'llama_index', 'openai')"
    code = f"import sys, qa.cli; print(','.join(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout + out.stderr
