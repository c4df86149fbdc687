"""The layer contract, checked: imports point one way (docs/design.md, "Layers").

Every ``import`` in the packages counts, at module level or inside a function (a lazy
import still ties the layers). Three rules:

1. a module imports nothing from a higher layer (core < aws < local < chatkit_widgets <
   deploy < doctor < workshop < cli), and core imports no IPython/ipywidgets/jupyter;
2. a ``_private`` module is imported only from inside its own package;
3. no cycles between modules.

Usage: ``python scripts/check_layers.py [ROOT]`` prints each violation and exits 1 if any.

>>> layer_of("chatkit.local.gateway"), layer_of("chatkit.session")
(2, 0)
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

#: Package (or module) prefix → layer; the longest matching prefix wins. The notebook
#: extension sits above ``local``: its default session is an edge that starts the stack.
LAYERS = {
    "chatkit": 0,
    "chatkit.aws": 1,
    "chatkit.local": 2,
    "chatkit_widgets": 3,
    "chatkit.deploy": 4,
    "chatkit.doctor": 5,
    "chatkit.workshop": 6,
    "chatkit.cli": 7,
    "chatkit.__main__": 7,
}
NAMES = dict(enumerate(["core", "aws", "local", "widgets", "deploy", "doctor", "workshop", "cli"]))
#: What the core (layer 0) never imports from outside the project.
NOT_IN_CORE = ("IPython", "ipywidgets", "jupyter", "jupyter_client", "ipykernel", "anywidget")
SOURCES = {"chatkit": "chatkit", "chatkit_widgets": "widgets/chatkit_widgets"}


def layer_of(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for both packages under ``root``."""
    found = {}
    for package, folder in SOURCES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            name = ".".join((package, *parts))
            found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in ``path`` (relative ones resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full if full in known else base), node.lineno


def _is_private_reach(importer: str, imported: str) -> bool:
    parts = imported.split(".")
    for depth, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            owner = ".".join(parts[:depth])
            return not (importer == owner or importer.startswith(owner + "."))
    return False


def violations(root: Path) -> list[str]:
    known = modules(root)
    graph: dict[str, set[str]] = {name: set() for name in known}
    found = []
    for name, path in known.items():
        where = path.relative_to(root)
        for imported, line in imports(name, path, known):
            if imported.split(".")[0] in NOT_IN_CORE and layer_of(name) == 0:
                found.append(f"{where}:{line}: core module {name} imports {imported}")
            if imported not in known:
                continue
            graph[name].add(imported)
            if layer_of(imported) > layer_of(name):
                found.append(
                    f"{where}:{line}: {name} ({NAMES[layer_of(name)]}) imports upward "
                    f"{imported} ({NAMES[layer_of(imported)]})"
                )
            if _is_private_reach(name, imported):
                found.append(f"{where}:{line}: {name} imports private {imported}")
    found += [f"import cycle among: {', '.join(cycle)}" for cycle in cycles(graph)]
    return list(dict.fromkeys(found))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out = []

    def visit(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1]
    problems = violations(root)
    for problem in problems:
        print(problem)
    print(f"layers: {len(problems)} violation(s)" if problems else "layers: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.setrecursionlimit(10_000)
    sys.exit(main(sys.argv))
