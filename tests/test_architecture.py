"""The apps stand in one dependency order: no import cycle between two apps.

The graph is read from the source (every import statement of ``buergerbuero/<app>/``, admin
modules and template tags included, migrations left out: they name the models of their time).
An edge ``a -> b`` means some module of app ``a`` imports app ``b``. The order, bottom to top,
is drawn at the top of the README's development section.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.mode_independent

PACKAGE = "buergerbuero"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def apps() -> set[str]:
    return {path.name for path in ROOT.iterdir() if (path / "__init__.py").exists()}


def imported_modules(path: Path) -> list[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    package = list(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names.append(".".join([*base, node.module] if node.module else base))
            else:
                names.append(node.module or "")
    return names


def app_graph() -> dict[str, set[str]]:
    known_apps = apps()
    graph: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if len(parts) < 2 or "migrations" in parts:
            continue
        app = parts[0]
        for name in imported_modules(path):
            target = name.split(".")
            if len(target) > 1 and target[0] == PACKAGE and target[1] in known_apps and target[1] != app:
                graph[app].add(target[1])
    return graph


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Every set of apps that reach each other (strongly connected components above one app;
    a pair when two apps import each other)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(app: str) -> None:
        index[app] = low[app] = len(index)
        stack.append(app)
        on_stack.add(app)
        for target in graph.get(app, ()):
            if target not in index:
                visit(target)
                low[app] = min(low[app], low[target])
            elif target in on_stack:
                low[app] = min(low[app], index[target])
        if low[app] == index[app]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == app:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for app in sorted(set(graph) | {t for targets in graph.values() for t in targets}):
        if app not in index:
            visit(app)
    return found


def test_the_graph_sees_imports_of_every_kind() -> None:
    graph = app_graph()
    assert "orgs" in graph["offices"]  # offices/models.py
    assert "audit" in graph["staff"]  # staff/account_views.py
    assert graph["lib"] == set()


def test_the_cycle_finder_finds_long_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset("abc")}
    assert cycles({"a": {"b"}, "b": set()}) == set()


def test_the_apps_import_each_other_in_no_cycle() -> None:
    found = cycles(app_graph())
    assert found == set(), f"import cycles between apps: {sorted(map(sorted, found))}"


def test_the_bottom_apps_import_no_app() -> None:
    graph = app_graph()
    for app in ("lib", "realtime", "limits", "formats"):
        assert graph.get(app, set()) == set(), f"{app} imports {sorted(graph[app])}"
