"""The package layout keeps its promises: no import cycles, databases kept in their own folders.

Every import counts, including those under `if TYPE_CHECKING:` and those inside functions: a
cycle that only type checkers or one code path see still ties the modules together for a reader.
Importing `a.b.c` also runs `a/__init__.py` and `a/b/__init__.py`; those implicit parent-package
imports are not edges (every package would otherwise depend on its own `__init__`).
Modules named in strings (the dialect registry, the decoder subprocess) are loaded lazily by name
and are not edges either.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Set, Tuple

import dlt_sqlalchemy

PACKAGE = "dlt_sqlalchemy"
ROOT = Path(dlt_sqlalchemy.__file__).parent
DIALECTS = f"{PACKAGE}.dialects"

TGraph = Dict[str, Set[str]]


def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def import_graph(root: Path, package: str) -> TGraph:
    """Module -> the modules of `package` it imports, anywhere in its source."""
    paths = {module_name(p, root, package): p for p in sorted(root.rglob("*.py"))}
    graph: TGraph = {}
    for module, path in paths.items():
        is_package = path.name == "__init__.py"
        current_package = module if is_package else module.rpartition(".")[0]
        targets: Set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = current_package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    # `from pkg import module` imports the module; `from pkg import name`, pkg
                    submodule = f"{base}.{alias.name}"
                    targets.add(submodule if submodule in paths else base)
        graph[module] = {t for t in targets if t in paths and t != module}
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> List[List[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
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


def cycle_path(graph: Mapping[str, Iterable[str]], component: List[str]) -> List[str]:
    """One concrete loop through `component`, for the failure message."""
    members = set(component)
    start = component[0]
    path = [start]
    seen = {start}
    node = start
    while True:
        following = sorted(t for t in graph.get(node, ()) if t in members)
        if start in following and len(path) > 1:
            return [*path, start]
        unvisited = [t for t in following if t not in seen]
        if not unvisited:
            return [*path, following[0]] if following else path
        node = unvisited[0]
        path.append(node)
        seen.add(node)


def database_package(module: str, dialects: str = DIALECTS) -> Optional[str]:
    """`dialects.postgresql` for any module inside `dialects/postgresql/`, else None."""
    if not module.startswith(f"{dialects}."):
        return None
    rest = module[len(dialects) + 1 :].split(".")
    name = f"{dialects}.{rest[0]}"
    return name if name in DATABASE_PACKAGES else None


def _database_packages() -> Set[str]:
    return {
        f"{DIALECTS}.{path.name}"
        for path in (ROOT / "dialects").iterdir()
        if path.is_dir() and (path / "__init__.py").exists()
    }


DATABASE_PACKAGES = _database_packages()


def imports_into_databases(graph: Mapping[str, Iterable[str]]) -> List[Tuple[str, str]]:
    """(importer, imported) where a module reaches into a database package not its own."""
    wrong = []
    for module, targets in graph.items():
        own = database_package(module)
        for target in targets:
            owner = database_package(target)
            if owner is not None and owner != own:
                wrong.append((module, target))
    return sorted(wrong)


# --- the checks on our package ----------------------------------------------------------------

GRAPH = import_graph(ROOT, PACKAGE)


def test_the_graph_sees_every_kind_of_import() -> None:
    # a type-only import, a function-level import and `from package import module`
    assert f"{PACKAGE}.dialects.base" in GRAPH[f"{PACKAGE}.client.sql_client"]
    assert f"{PACKAGE}.dialects" in GRAPH[f"{PACKAGE}.engine"]  # inside a function
    assert f"{PACKAGE}.followup.guards" in GRAPH[f"{PACKAGE}.followup.statements_job"]


def test_no_import_cycles() -> None:
    found = cycles(GRAPH)
    loops = [
        " -> ".join(m.removeprefix(f"{PACKAGE}.") for m in cycle_path(GRAPH, c)) for c in found
    ]
    assert not found, "import cycles:\n" + "\n".join(loops)


def test_every_builtin_database_has_its_own_package() -> None:
    expected = {"postgresql", "mysql", "sqlite", "duckdb", "mssql", "oracle", "trino", "firebird"}
    assert {p.rpartition(".")[2] for p in DATABASE_PACKAGES} == expected
    for package in DATABASE_PACKAGES:
        assert f"{package}.capabilities" in GRAPH, f"{package} has no capabilities module"


def test_nothing_imports_a_database_package_but_itself() -> None:
    # the registry names them in strings and imports them on first use
    wrong = imports_into_databases(GRAPH)
    assert not wrong, "imports into a database package from outside it:\n" + "\n".join(
        f"{a} imports {b}" for a, b in wrong
    )


def test_database_packages_use_only_the_core_below_the_clients() -> None:
    """A database package gets the SQL client through its hooks (`DialectSqlClient`): it never
    imports the clients, the jobs or the factory, so it cannot pull them into a cycle."""
    above = ("client", "factory", "capabilities", "configuration", "load.job", "followup.job")
    wrong = sorted(
        (module, target)
        for module, targets in GRAPH.items()
        if database_package(module)
        for target in targets
        if target.removeprefix(f"{PACKAGE}.").startswith(above)
    )
    assert not wrong


def test_jobs_never_import_the_job_client() -> None:
    """The job client makes and runs the jobs: they get what they need from it, typed by the
    `JobHost` protocol, so the job client can import them without a cycle."""
    job_client = f"{PACKAGE}.client.job_client"
    importers = sorted(
        m
        for m, targets in GRAPH.items()
        if job_client in targets and m.startswith((f"{PACKAGE}.load", f"{PACKAGE}.followup"))
    )
    assert not importers


def test_the_extension_point_sits_below_the_clients() -> None:
    """What a dialect author implements (the hooks, the load path interface, the merge specs)
    must not depend on the SQL client, the job client or the jobs that use it."""
    below = ["dialects.base", "load.path", "followup.merge.constructs"]
    above = {f"{PACKAGE}.{m}" for m in ("client.sql_client", "client.job_client", "load.job")}
    for module in (f"{PACKAGE}.{m}" for m in below):
        reachable = _reachable(GRAPH, module)
        assert not reachable & above, f"{module} reaches {sorted(reachable & above)}"


def _reachable(graph: Mapping[str, Iterable[str]], start: str) -> Set[str]:
    seen: Set[str] = set()
    todo = [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


# --- the checker itself finds what it should --------------------------------------------------


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_checker_finds_a_cycle_through_a_type_only_import(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg import b\n",
            "b.py": "if TYPE_CHECKING:\n    from pkg.c import C\n",
            "c.py": "def f():\n    from .a import thing\n",
            "d.py": "import pkg.a\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert cycle_path(graph, ["pkg.a", "pkg.b", "pkg.c"]) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]


def test_checker_ignores_parent_packages_and_strings(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "__init__.py": "from pkg.sub.x import X\n",
            "sub/__init__.py": "",
            "sub/x.py": "import importlib\nimportlib.import_module('pkg')\nX = 1\n",
        },
    )
    assert cycles(import_graph(tmp_path, "pkg")) == []


def test_checker_finds_imports_into_a_database_package() -> None:
    postgresql = f"{DIALECTS}.postgresql"
    graph = {
        f"{PACKAGE}.client.sql_client": {f"{postgresql}.types"},
        f"{postgresql}.capabilities": {f"{postgresql}.types", f"{PACKAGE}.dialects.base"},
        f"{DIALECTS}.duckdb.capabilities": {f"{postgresql}.types"},
    }
    assert imports_into_databases(graph) == [
        (f"{PACKAGE}.client.sql_client", f"{postgresql}.types"),
        (f"{DIALECTS}.duckdb.capabilities", f"{postgresql}.types"),
    ]
