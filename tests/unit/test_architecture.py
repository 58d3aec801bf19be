"""The layering of design.md §1, checked on the import statements of the package."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"


def _imports() -> dict[str, set[str]]:
    """Each module of the package (emulator as one) and the package modules it imports."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        name = "emulator" if rel.parts[0] == "emulator" else ".".join(rel.parts)
        found = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level and node.module:
                top = node.module.split(".")[0]
                base = "emulator" if top == "emulator" or (name == "emulator" and node.level == 1) else top
                if base != name:
                    found.add(base)
            elif isinstance(node, ast.ImportFrom) and node.level and not node.module:
                found.update(a.name for a in node.names if (PACKAGE / f"{a.name}.py").exists())
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                found.update(n.split(".")[1] for n in names if n.startswith("reconciler.") and n.count(".") >= 1)
    return graph


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_module_imports_itself_through_others():
    graph = _imports()
    assert [m for m in graph if m in _reach(graph, m)] == []


def test_the_planner_imports_no_http_code():
    assert not {"client", "quota", "pipeline"} & _reach(_imports(), "engine")


def test_rendering_imports_no_apply_or_client_code():
    assert not {"apply", "client", "quota", "pipeline"} & _reach(_imports(), "render")


def test_only_the_client_imports_httpx():
    users = [p.name for p in PACKAGE.rglob("*.py") if "import httpx" in p.read_text("utf-8")]
    assert users == ["client.py"]


def test_only_cli_speaks_to_the_terminal():
    users = sorted(p.name for p in PACKAGE.glob("*.py") if "import click" in p.read_text("utf-8"))
    assert users == ["cli.py"]
