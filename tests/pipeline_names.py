"""Lines of shared code that name a pipeline (``python -m tests.pipeline_names`` prints them).

Shared code is every module of ``etl_tasks`` outside a pipeline's own package; a line names a
pipeline when one of its identifiers, string literals or comments contains a registered
pipeline's name, its own command or its report names. Docstrings are left out (they document
examples); the registry's list of pipeline modules is the one place allowed to name them.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "etl_tasks"
PIPELINE_PACKAGES = ("twitch", "btg")
# Pipeline names, their own commands and their report names ("tipos").
WORDS = re.compile(r"twitch|helix|btg|orquestrador|carteira|rentabilidade", re.IGNORECASE)
REGISTRY = PACKAGE / "pipelines.py"


def shared_modules() -> list[Path]:
    """Every module of the package outside the pipeline packages."""
    own = {PACKAGE / name for name in PIPELINE_PACKAGES}
    return sorted(
        path for path in PACKAGE.rglob("*.py") if not any(parent in own for parent in path.parents)
    )


def _docstring_lines(source: str) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def _registry_lines(source: str) -> set[int]:
    """The lines of ``PIPELINE_MODULES = (...)`` in the registry."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "PIPELINE_MODULES"
            for target in node.targets
        ):
            return set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return set()


def naming_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of each line of ``path`` that names a pipeline outside docstrings."""
    source = path.read_text(encoding="utf-8")
    skipped = _docstring_lines(source)
    if path == REGISTRY:
        skipped |= _registry_lines(source)
    found: set[int] = set()
    kinds = {tokenize.NAME, tokenize.STRING, tokenize.COMMENT}
    kinds.add(getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING))  # Python 3.12+ f-strings
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in kinds and WORDS.search(token.string):
            for line in range(token.start[0], token.end[0] + 1):
                if line not in skipped:
                    found.add(line)
    text = source.splitlines()
    return [(line, text[line - 1].strip()) for line in sorted(found)]


def report() -> list[str]:
    """``path:line: text`` of every shared line that names a pipeline."""
    return [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text}"
        for path in shared_modules()
        for line, text in naming_lines(path)
    ]


if __name__ == "__main__":
    lines = report()
    print("\n".join(lines))
    print(f"{len(lines)} lines of shared code name a pipeline")
    sys.exit(1 if lines else 0)
