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


# ---- size and shape: the targets of issue 17, measured on the tree ---------------------------
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def internal_imports(package: str, path: Path) -> set[str]:
    """Modules of `package` that `path` imports at run time, at the top or inside functions
    (a lazy import is still a dependency); imports only for type checkers are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = {id(n) for t in ast.walk(tree) if _type_checking(t) for n in ast.walk(t)}
    modules = {f.stem for f in files(package)} - {"__init__"}
    found = set()
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            head, _, rest = name.partition(".")
            if head == package and rest.split(".")[0] in modules:
                found.add(rest.split(".")[0])
    return found - {path.stem}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = [stack.pop()]
            while group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_the_cycle_finder_finds_a_cycle_and_only_cycles() -> None:
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_a_package(package: str) -> None:
    """The package's __init__ re-exports its modules and is left out; any other loop means
    two modules that can only be understood (and changed) together."""
    graph = {f.stem: internal_imports(package, f) for f in files(package) if f.stem != "__init__"}
    assert import_cycles(graph) == [], f"{package}: import cycles"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_over_the_size_limit(package: str) -> None:
    sizes = {f.name: len(f.read_text(encoding="utf-8").splitlines()) for f in files(package)}
    over = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert over == {}, f"{package}: modules over {MAX_MODULE_LINES} lines"


def long_functions(path: Path) -> dict[str, int]:
    """Functions and methods (def line to last line) longer than the limit."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        f"{path.name}:{node.name}": node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_over_the_length_limit(package: str) -> None:
    over = {k: v for f in files(package) for k, v in long_functions(f).items()}
    assert over == {}, f"{package}: functions over {MAX_FUNCTION_LINES} lines"
