"""The package's import graph is one-way: no cycle among its top-level parts (each subpackage, each root module).

Every import counts, at the top of a file or inside a function: a lazy import
is still a dependency, only a later one. A cycle means two parts cannot be
understood, tested or moved apart.
"""

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "autoenc_audio"
ROOT = PACKAGE.name


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:]) if "." in module else Path()
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def _imported(path: Path) -> set[str]:
    """The package's modules that `path` imports, at any depth of its code, relative imports resolved."""
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:  # `from . import api` imports a module, `from .. import __version__` a name
                found.add(f"{source}.{alias.name}" if _exists(f"{source}.{alias.name}") else source)
    return {name for name in found if name == ROOT or name.startswith(ROOT + ".")}


def part_of(module: str) -> str:
    """The top-level part a module belongs to: `autoenc_audio.latents.files` -> `latents`; the root `__init__` -> ROOT."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def import_graph() -> dict[str, dict[str, list[str]]]:
    """part -> {part it imports: the files that import it}."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = part_of(_module_of(path))
        for imported in sorted({part_of(name) for name in _imported(path)} - {importer}):
            graph[importer][imported].append(str(path.relative_to(PACKAGE.parent)))
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """The strongly connected components with more than one part (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
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
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_cycle_among_the_package_s_top_level_parts():
    graph = import_graph()
    found = cycles(graph)
    detail = [
        f"{a} -> {b} ({', '.join(graph[a][b])})"
        for component in found
        for a in component
        for b in component
        if b in graph.get(a, {})
    ]
    assert not found, f"import cycles among {found}:\n" + "\n".join(detail)


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "pages" in graph["analysis"]  # a lazy `from ..pages.analysis import ...` inside run_analysis
    assert "version" in graph["latents"]  # `from ..version import __version__`: the module, not the package
    assert "api" in graph[ROOT]  # the package's lazy API, imported inside its `__getattr__`
    assert "plots" in graph["quality"]  # `from ..plots.sweep import ...` inside a function
    assert [part for part, imports in graph.items() if "cli" in imports] == [
        "__main__"
    ]  # the library never calls the CLI


def test_a_cycle_is_found_and_named():
    graph = {"a": {"b": ["a/x.py"]}, "b": {"c": ["b/y.py"]}, "c": {"a": ["c/z.py"]}, "d": {"a": ["d.py"]}}
    assert cycles(graph) == [["a", "b", "c"]]
