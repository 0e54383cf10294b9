"""The layers of `callpath` (ARCHITECTURE.md, "Where things live"), read from the source:
each package imports only itself and the layers below it, nobody imports another module's
private names, nothing imports in a circle, and the tables are touched by the layers whose
job that is. A change that breaks one of these fails here, naming the import."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = SRC / "callpath"

# Lowest first. A package may import its own modules and any package of a lower layer;
# packages of one layer do not import each other.
LAYERS: list[set[str]] = [
    {"callpath", "domain", "settings", "tracker"},  # pure rules; settings; the snippet source
    {"storage", "telephony"},  # all SQL; the providers' wire formats (no database)
    {"services", "reports"},  # use cases; the read side pages and the API show
    {"integrations"},  # outbound: what other systems are handed (the platforms' files)
    {"sim"},  # the traffic model, replayed through the real services
    {"planner"},  # pool sizing on that model
    {"workers"},  # processes and background threads: started from above, never below
    {"web"},  # HTTP: thin, request -> service or report -> response
    {"cli"},  # the command
    {"__main__"},  # `python -m callpath`
]
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}

# Who may read and write the tables: the repositories, and the reports' reads.
SQL_OWNERS = {"storage", "reports"}
# Who may start processes or trap signals: the processes themselves and the command.
PROCESS_OWNERS = {"workers", "cli"}
# What anyone may take from the tables module: constants, not tables.
TABLE_CONSTANTS = {"MAX_ID"}
# What others may take from SQLAlchemy: the types a connection or an engine is passed as,
# URL parsing, and its errors (sqlalchemy.exc); no statement builders, no text SQL.
SQLALCHEMY_TYPES = {"Connection", "Engine", "make_url"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(dotted: str) -> bool:
    path = SRC / dotted.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").exists()


def _imports(path: Path) -> Iterator[tuple[str, str | None, int]]:
    """(module imported, name taken from it or None, line) for every callpath import,
    at the top or inside a function."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "callpath":
                    yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            if base.split(".")[0] != "callpath":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if _exists(full):  # a module: `from callpath.storage import db`
                    yield full, None, node.lineno
                else:
                    yield base, alias.name, node.lineno


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


GRAPH = {_module(path): list(_imports(path)) for path in sorted(ROOT.rglob("*.py"))}


def test_every_package_has_a_layer() -> None:
    packages = {_package(module) for module in GRAPH}
    assert packages - set(RANK) == set(), "add the new package to LAYERS (and ARCHITECTURE.md)"


def test_packages_import_only_lower_layers() -> None:
    upward = [
        f"{module}:{line} imports {target}"
        for module, imports in GRAPH.items()
        for target, _name, line in imports
        if _package(target) != _package(module) and RANK[_package(target)] >= RANK[_package(module)]
    ]
    assert upward == []


def test_no_module_imports_a_private_name() -> None:
    private = [
        f"{module}:{line} takes {name} from {target}"
        for module, imports in GRAPH.items()
        for target, name, line in imports
        if name is not None and name.startswith("_") and not name.startswith("__")
    ]
    assert private == []


def test_nothing_imports_in_a_circle() -> None:
    edges = {m: {t for t, _n, _l in imports if t in GRAPH} for m, imports in GRAPH.items()}
    circles = [cycle for cycle in _cycles(edges)]
    assert circles == []


def _cycles(edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    yield sorted(component)


SCHEMA = (
    "callpath.storage.tables",
    "callpath.storage.analytics_tables",
    "callpath.storage.metadata",
)


def test_only_repositories_and_reports_touch_the_tables() -> None:
    importers = [
        f"{module}:{line} takes {name or 'the module'}"
        for module, imports in GRAPH.items()
        for target, name, line in imports
        if target in SCHEMA and name not in TABLE_CONSTANTS and _package(module) not in SQL_OWNERS
    ]
    assert importers == [], "SQL belongs in storage/ (or reports/, to read for a page)"


def test_only_repositories_and_reports_build_sql() -> None:
    builders = [
        f"{_module(path)}:{line} takes {name} from {source}"
        for path in sorted(ROOT.rglob("*.py"))
        if _package(_module(path)) not in SQL_OWNERS
        for source, name, line in _third_party(path, "sqlalchemy")
        if name not in SQLALCHEMY_TYPES and source != "sqlalchemy.exc"
    ]
    assert builders == [], "SQL belongs in storage/ (or reports/, to read for a page)"


def test_only_workers_and_the_command_start_processes_or_trap_signals() -> None:
    """Libraries are started; they start nothing (a library that spawns or traps signals
    surprises every process that imports it)."""
    found = [
        f"{_module(path)}:{line} imports {source}"
        for path in sorted(ROOT.rglob("*.py"))
        if _package(_module(path)) not in PROCESS_OWNERS
        for top in ("subprocess", "signal", "multiprocessing")
        for source, _name, line in _third_party(path, top)
    ]
    assert found == []


def _third_party(path: Path, top: str) -> Iterator[tuple[str, str, int]]:
    """(module, name, line) of every `from top... import name` and `import top...`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == top:
            for alias in node.names:
                yield node.module or "", alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == top:
                    yield alias.name, alias.name, node.lineno


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_the_circle_finder_finds_circles(
    edges: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert list(_cycles(edges)) == expected
