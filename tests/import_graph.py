"""Import cycles of a package, from its source (an AST walk; nothing is imported).

    python -m tests.import_graph [etl_tasks]             # prints the cycles, exits 1 if any
    python -m tests.import_graph --packages etl_tasks    # also count package __init__ runs

Every ``import`` counts, at module level or inside a function (a deferred import only hides a
cycle until the function runs), except those under ``if TYPE_CHECKING:``. ``from pkg import name``
points at ``pkg.name`` when that is a module, else at ``pkg``. A cycle is a strongly connected
component of two or more modules (or a module importing itself); its size says how many modules
are tangled together. With ``--packages``, importing ``a.b.c`` also counts as importing ``a`` and
``a.b`` (Python runs their ``__init__`` first), the stricter reading.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules(package: str) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of ``package``."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in type_only:
            yield node


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of the package that ``name`` imports."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = name.split(".") if is_package else name.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            full = f"{base}.{alias.name}"
            targets.add(full if full in known else base)
    return {target for target in targets if target in known}


def graph(package: str, packages: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (with their parent packages if asked)."""
    known = modules(package)
    edges = {name: imports_of(name, path, known) for name, path in known.items()}
    if packages:
        for name, targets in edges.items():
            parents = {
                ".".join(target.split(".")[:depth])
                for target in targets
                for depth in range(1, target.count(".") + 1)
            }
            # A module's own packages are already initialised (or initialising) when it runs.
            own = {".".join(name.split(".")[:depth]) for depth in range(1, name.count(".") + 2)}
            targets.update(parent for parent in parents - own if parent in known)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with a cycle (Tarjan), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found, key=lambda c: (-len(c), c))


def main(argv: list[str]) -> int:
    packages = "--packages" in argv
    names = [arg for arg in argv if not arg.startswith("--")]
    package = names[0] if names else "etl_tasks"
    edges = graph(package, packages)
    found = cycles(edges)
    scope = " (with package __init__ edges)" if packages else ""
    imports = sum(map(len, edges.values()))
    print(f"{package}{scope}: {len(edges)} modules, {imports} imports, {len(found)} import cycles")
    for component in found:
        print(f"  cycle of {len(component)}: {' <-> '.join(component)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
