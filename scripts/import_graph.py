"""wildeye's import graph between its top-level modules and packages: edges, cycles, and edges that point up.

    python scripts/import_graph.py [SRC]        # default: src/ of this checkout

Reads every module with `ast` (nothing is imported), maps each `wildeye.X...` import to its top-level unit
(`wildeye.store.journal` -> `store`), and prints the edges between units, the import cycles between them, and the
edges that point up the layer order in LAYERS (the arrows must only point down). Exits 1 when there is a cycle
or an upward edge.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

# Bottom first. A unit may import units of its own layer or below, never above.
LAYERS = (
    ("__init__", "errors", "labels", "records", "names", "atomic", "config"),  # vocabulary
    ("store", "ingest", "models", "interop"),  # the journal, the card, the model files, other tools' files
    ("inference", "ecology"),  # pure compute: decode, detector, classifier, ensemble; occupancy, activity, richness
    ("app", "reports", "review", "train"),  # use cases: run, report build, review sync/pull, train
    ("cli", "commands", "ui", "__main__"),  # the command line
)


def layer_of(unit: str) -> int:
    for index, units in enumerate(LAYERS):
        if unit in units:
            return index
    return -1


def units_of(src: Path) -> dict[str, list[Path]]:
    root = src / "wildeye"
    found: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        unit = rel.parts[0][:-3] if len(rel.parts) == 1 else rel.parts[0]
        found[unit].append(path)
    return found


def imports_of(path: Path, package: str) -> set[str]:
    """Top-level wildeye units a module imports (absolute and relative imports, at any depth in the module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return {name.split(".")[1] for name in names if name.startswith("wildeye.") and len(name.split(".")) > 1}


def graph(src: Path) -> dict[str, set[str]]:
    units = units_of(src)
    edges: dict[str, set[str]] = {unit: set() for unit in units}
    for unit, paths in units.items():
        for path in paths:
            rel = path.relative_to(src).with_suffix("")
            package = ".".join(rel.parts[:-1]) if path.name != "__init__.py" else ".".join(rel.parts[:-1])
            for target in imports_of(path, package):
                if target != unit and target in units:
                    edges[unit].add(target)
    return edges


def module_graph(src: Path) -> dict[str, set[str]]:
    """Edges between individual modules (wildeye.models.cache -> wildeye.models.registry), for cycles inside a
    package."""
    modules: dict[str, Path] = {}
    for path in sorted((src / "wildeye").rglob("*.py")):
        rel = path.relative_to(src).with_suffix("")
        parts = rel.parts[:-1] if path.name == "__init__.py" else rel.parts
        modules[".".join(parts)] = path
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parent + ([node.module] if node.module else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rsplit(".", 1)[0] if "." in target else ""
                if target and target != name and not name.startswith(target + "."):
                    edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", nargs="?", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    args = parser.parse_args(argv)
    edges = graph(args.src)
    pairs = sorted((a, b) for a, targets in edges.items() for b in targets)
    upward = [(a, b) for a, b in pairs if layer_of(a) < layer_of(b)]
    unknown = sorted(unit for unit in edges if layer_of(unit) < 0)
    found = cycles(edges)
    print(f"{len(edges)} units, {len(pairs)} import edges, {len(upward)} pointing up, {len(found)} cycles")
    for a, b in pairs:
        mark = "  UP" if (a, b) in upward else ""
        print(f"  {a} -> {b}{mark}")
    for component in found:
        print("cycle: " + " <-> ".join(component))
    if unknown:
        print("not in any layer: " + ", ".join(unknown))
    module_cycles = cycles(module_graph(args.src))
    for component in module_cycles:
        print("module cycle: " + " <-> ".join(component))
    return 1 if upward or found or module_cycles else 0


if __name__ == "__main__":
    sys.exit(main())
