"""Shared pieces for the fast unit tests (tests/test_unit_*.py).

Nothing here talks to Docker or the network. Test modules import what they
need with `from unit_helpers import ...` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
REPO_STACK = REPO / "stack.toml"

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


def to_toml(data: dict[str, Any]) -> str:
    """A small TOML writer: every nested dict becomes its own [a.b.c] table."""
    lines: list[str] = []

    def table(node: dict[str, Any], path: tuple[str, ...]) -> None:
        scalars = {k: v for k, v in node.items() if not isinstance(v, dict)}
        children = {k: v for k, v in node.items() if isinstance(v, dict)}
        if path:
            lines.append("[" + ".".join(_key(p) for p in path) + "]")
        for k, v in scalars.items():
            lines.append(f"{_key(k)} = {_value(v)}")
        if path:
            lines.append("")
        for k, v in children.items():
            table(v, path + (k,))

    top_scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    if top_scalars:
        # Top-level scalars are written before any table header.
        for k, v in top_scalars.items():
            lines.append(f"{_key(k)} = {_value(v)}")
        lines.append("")
    table({k: v for k, v in data.items() if isinstance(v, dict)}, ())
    return "\n".join(lines) + "\n"


MINIMAL_STACK: dict[str, Any] = {
    "stack": {
        "name": "mini",
        "platforms": ["linux/amd64", "linux/arm64"],
        "secrets": ["SECRET_KEY"],
        "required": ["SECRET_KEY"],
    },
    "images": {
        "app": {
            "context": "app",
            "dockerfile": "Dockerfile",
            "stages": {"dev": "dev", "prod": "prod"},
            "services": ["web", "jobs"],
        },
        "ui": {
            "context": "ui",
            "services": ["ui"],
        },
    },
    "third_party": {"cache": "redis:7.2.4"},
    "modes": {
        "dev": {"files": ["compose/base.yaml", "compose/dev.yaml"], "stage": "dev", "tag": "dev"},
        "prod": {"files": ["compose/base.yaml"], "stage": "prod", "tag": "latest"},
    },
}


def minimal_stack_data() -> dict[str, Any]:
    """A fresh deep copy of a small valid description, safe to mutate."""
    return copy.deepcopy(MINIMAL_STACK)


def make_stack_tree(root: Path) -> None:
    """The files MINIMAL_STACK refers to: two build contexts and two compose files."""
    for context in ("app", "ui"):
        (root / context).mkdir(parents=True, exist_ok=True)
        (root / context / "Dockerfile").write_text("FROM scratch AS dev\nFROM scratch AS prod\n")
    (root / "compose").mkdir(exist_ok=True)
    (root / "compose" / "base.yaml").write_text("services: {}\n")
    (root / "compose" / "dev.yaml").write_text("services: {}\n")


def write_stack(root: Path, data: dict[str, Any] | str) -> Path:
    """Write a description (dict or raw TOML text) as root/stack.toml."""
    path = root / "stack.toml"
    path.write_text(data if isinstance(data, str) else to_toml(data), encoding="utf-8")
    return path


def copy_repo_stack(dest: Path) -> Path:
    """Copy the repo's own stack description to `dest` with stand-in Dockerfiles.

    Copies stack.toml, .env.example and compose/; the build contexts get a
    dummy Dockerfile each and the named context folder is created, so the
    description validates. Returns the new stack.toml path.
    """
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "stack.toml", dest / "stack.toml")
    shutil.copy2(REPO / ".env.example", dest / ".env.example")
    shutil.copytree(REPO / "compose", dest / "compose")
    for context in ("docker/server", "docker/frontend"):
        (dest / context).mkdir(parents=True)
        (dest / context / "Dockerfile").write_text("FROM scratch AS dev\nFROM scratch AS prod\n")
    (dest / "docker/common").mkdir(parents=True)
    return dest / "stack.toml"


def run_invoke(*args: str) -> int:
    """Run `invoke ARGS...` in-process against polyarch's namespace; return the exit code.

    Program.run(exit=True) calls sys.exit on Exit/ParseError (polyarch turns
    its errors into invoke.Exit with the error's exit code); a run that
    finishes normally does not exit, which counts as 0.
    """
    from invoke import Program

    from polyarch.tasks import namespace

    try:
        Program(namespace=namespace(), name="invoke").run(["invoke", *args], exit=True)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 0


@pytest.fixture
def fresh_console(monkeypatch):
    """Rebuild polyarch's cached rich console so it writes plain text to the captured stderr."""
    import polyarch.console

    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "POLYARCH_DEBUG", "POLYARCH_STACK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "400")
    polyarch.console.err.cache_clear()
    yield
    polyarch.console.err.cache_clear()
