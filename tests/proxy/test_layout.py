"""Guard tests for the architecture: the core imports no plugin, no import circles, small modules,
and plugins use only the core's public names.

Imports are read with :mod:`ast`, function-level ones included (a lazy import is still a
dependency); imports under ``if TYPE_CHECKING:`` never run, so only the first rule counts them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("proxy", "plugins")
MAX_LINES = 400


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    imports: set[str] = field(default_factory=set)             # modules it imports at run time
    typing_imports: set[str] = field(default_factory=set)      # under ``if TYPE_CHECKING:``
    names: list[tuple[str, int]] = field(default_factory=list)     # (dotted name, line) of every import


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _read(path: Path) -> Module:
    text = path.read_text()
    module = Module(_module_name(path), path, len(text.splitlines()))
    package = module.name if path.name == "__init__.py" else module.name.rpartition(".")[0]

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            only = typing_only or _is_type_checking(child)
            into = module.typing_imports if only else module.imports
            if isinstance(child, ast.Import):
                into.update(alias.name for alias in child.names)
                module.names.extend((alias.name, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:                                  # relative: from .x import y
                    anchor = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    base = f"{anchor}.{base}".rstrip(".")
                into.add(base)
                into.update(f"{base}.{alias.name}" for alias in child.names)   # from pkg import submodule
                module.names.extend((f"{base}.{alias.name}", child.lineno) for alias in child.names)
            visit(child, only)

    visit(ast.parse(text, str(path)), False)
    return module


def _modules() -> dict[str, Module]:
    found = (_read(p) for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py")))
    return {m.name: m for m in found}


MODULES = _modules()


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return found


def test_the_modules_were_found():
    assert {"proxy.config", "proxy.cli", "plugins.limits.admission"} <= set(MODULES)


def test_the_core_imports_no_plugin():
    bad = [f"{m.name} imports {imp}" for m in MODULES.values() if m.name.startswith("proxy")
           for imp in sorted(m.imports | m.typing_imports) if imp == "plugins" or imp.startswith("plugins.")]
    assert bad == [], "the core must reach plugins only through hooks (DEFAULT_PLUGINS names them)"


def test_no_import_circles():
    edges = {name: {imp for imp in m.imports if imp in MODULES and imp != name} for name, m in MODULES.items()}
    assert _cycles(edges) == []


def test_no_module_is_too_long():
    long = {m.name: m.lines for m in MODULES.values() if m.lines > MAX_LINES}
    assert long == {}, f"split modules over {MAX_LINES} lines"


def test_plugins_use_only_public_names_of_the_core():
    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    bad = [f"{m.path.relative_to(ROOT)}:{line}: {name}" for m in MODULES.values() if m.name.startswith("plugins")
           for name, line in m.names if name.startswith("proxy.") and any(map(private, name.split(".")))]
    assert bad == [], "give the core's helper a public name instead"
