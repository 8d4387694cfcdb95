"""Layers that only point down, and no cycle between packages: read from every module's imports (ast)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The layers, lowest first: a module may import its own layer or a lower one, never a higher one.
LAYERS = ("base", "wire schemas", "db", "services", "http", "entry points")
# Module name -> layer: the first pattern that matches wins.
RULES = (
    (("service.app", "service.cli", "service.seed", "service.users.first_admin"), "entry points"),
    (("service.http.schemas", "service.http.dates", "service.*.schemas"), "wire schemas"),
    (("service.http.ratelimit",), "services"),  # a limiter counted in PostgreSQL, used by login and stock
    (("service.http.*", "service.*.routes"), "http"),
    (("service.db.*", "service.*.queries"), "db"),
    (
        (
            "service",
            "service.errors",
            "service.config",
            "service.dates",
            "service.ops.*",
            "service.*.cpf",
            "service.presales.totals",
            "service.auth.passwords",
            "service.auth.permissions",
            "service.auth.tokens",
        ),
        "base",
    ),
    (("service.*",), "services"),  # the rest of each area: its service and helpers
)


def layer_of(module: str) -> str:
    for patterns, layer in RULES:
        if any(fnmatchcase(module, pattern) for pattern in patterns):
            return layer
    raise AssertionError(f"{module} is in no layer")


def package_of(module: str) -> str:
    """service.customers.service -> service.customers; a top-level module (service.app) is its own package."""
    return ".".join(module.split(".")[:2])


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The service modules a file imports, anywhere in it (also inside functions and TYPE_CHECKING blocks)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            # `from service.auth import queries` imports the module service.auth.queries.
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names)
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    paths = sorted((ROOT / "service").rglob("*.py"))
    known = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, known) for path in paths}


def upward_imports(graph: Mapping[str, Iterable[str]]) -> list[str]:
    rank = {layer: index for index, layer in enumerate(LAYERS)}
    return [
        f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if rank[layer_of(target)] > rank[layer_of(module)]
    ]


def package_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Each cycle of package dependencies found by a depth-first search (one per back edge)."""
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges = packages.setdefault(package_of(module), set())
        edges.update(package_of(target) for target in targets if package_of(target) != package_of(module))
    cycles: list[list[str]] = []
    done: set[str] = set()

    def visit(package: str, path: list[str]) -> None:
        if package in path:
            cycles.append([*path[path.index(package) :], package])
            return
        if package in done:
            return
        for target in sorted(packages.get(package, ())):
            visit(target, [*path, package])
        done.add(package)

    for package in sorted(packages):
        visit(package, [])
    return cycles


def test_no_module_imports_a_higher_layer() -> None:
    assert upward_imports(import_graph()) == []


def test_no_cycle_between_packages() -> None:
    assert package_cycles(import_graph()) == []


def test_every_module_has_a_layer_and_the_graph_is_read() -> None:
    graph = import_graph()
    assert all(layer_of(module) in LAYERS for module in graph)
    assert "service.db.sql" in graph["service.customers.queries"]  # `from service.db.sql import ...`
    assert "service.customers.queries" in graph["service.customers.service"]  # `from service.customers import queries`
    assert "service.errors" in graph["service.customers.service"]  # `from service import errors`


def test_the_checks_catch_an_upward_import_and_a_cycle() -> None:
    graph = {
        "service.db.sql": {"service.http.envelope"},
        "service.http.envelope": {"service.db.pages"},
        "service.db.pages": set(),
    }
    assert upward_imports(graph) == ["service.db.sql (db) imports service.http.envelope (http)"]
    assert package_cycles(graph) == [["service.db", "service.http", "service.db"]]
