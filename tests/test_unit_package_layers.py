"""The package layout is the architecture: imports only point down the layers.

Layers, lowest first: core (shared vocabulary), adapters (docker, registry,
files, git, locks, cosign), model (the project as read), planning (pure
plans and rules), execution (running plans), cli (program, session, tasks).
A module may import its own layer and those below, never one above, and
no task module imports another. Imports inside functions and under
TYPE_CHECKING count too: hiding an arrow does not remove it.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "polyarch"
LAYERS = ("core", "adapters", "model", "planning", "execution", "cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every polyarch module `path` imports, wherever the import statement sits."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("polyarch."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("polyarch") and not node.level:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if _is_module(child) else node.module)
    return found


def _is_module(dotted: str) -> bool:
    relative = Path(*dotted.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative / "__init__.py").exists()


# Old import paths kept for projects' own tasks.py files, and the layer they belong to.
ALIASES = {"polyarch.tasks": "polyarch.cli.tasks"}


def layer_of(module: str) -> int | None:
    parts = ALIASES.get(module, module).split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


@lru_cache(maxsize=1)
def modules() -> dict[str, set[str]]:
    return {_module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in graph.items():
        own = layer_of(module)
        for target in sorted(targets):
            theirs = layer_of(target)
            if own is not None and theirs is not None and theirs > own:
                bad.append(f"{module} -> {target}")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_sits_in_a_layer():
    loose = [m for m in modules() if layer_of(m) is None and m not in ("polyarch",)]
    assert loose == []


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports(modules()) == []


def test_no_import_cycles():
    assert cycles(modules()) == []


def test_no_task_module_imports_another():
    graph = modules()
    tasks = {m for m in graph if m.startswith("polyarch.cli.tasks.")}
    assert [f"{m} -> {t}" for m in sorted(tasks) for t in sorted(graph[m] & tasks)] == []


def test_listing_the_tasks_imports_no_planning_execution_rich_or_docker_client():
    """`polyarch --list` loads every task module: what they import at load time is its start-up cost."""
    import subprocess
    import sys

    script = ("import sys\nfrom polyarch.cli.tasks import namespace\nnamespace()\n"
              "print('\\n'.join(sorted(sys.modules)))\n")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=PACKAGE.parent).stdout.split()
    heavy = ("polyarch.model", "polyarch.planning", "polyarch.execution", "polyarch.adapters.docker", "rich", "python_on_whales")
    assert [m for m in loaded if any(m == h or m.startswith(h + ".") for h in heavy)] == []


def test_the_checks_catch_what_they_look_for():
    graph = {"polyarch.core.a": {"polyarch.cli.b"}, "polyarch.cli.b": {"polyarch.core.a"}}
    assert upward_imports(graph) == ["polyarch.core.a -> polyarch.cli.b"]
    assert cycles(graph) == [["polyarch.cli.b", "polyarch.core.a"]]


def test_the_old_task_import_path_still_serves_a_projects_tasks_py():
    from polyarch.cli.tasks import namespace
    from polyarch.cli.tasks.release import deploy_build
    from polyarch.tasks import namespace as old_namespace
    from polyarch.tasks.release import deploy_build as old_deploy_build

    assert old_namespace is namespace
    assert old_deploy_build is deploy_build
