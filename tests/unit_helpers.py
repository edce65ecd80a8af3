"""Shared pieces for the fast unit tests (tests/test_unit_*.py).

Nothing here talks to a Docker engine or the network, and no docker CLI is
needed: in unit test modules `docker compose config` is answered from
recordings of Docker's own readings (tests/docker_standin.py, installed by
tests/conftest.py). Tests that load real compose files use the `compose_cli`
fixture (or `require_compose()`), which also keeps COMPOSE_* variables from
steering compose. Test modules import what they need with
`from unit_helpers import ...` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from docker_standin import BASETEMP as BASETEMP_VARIABLE

REPO = Path(__file__).resolve().parent.parent
# The file that describes the repo's sample stack (next to its compose files).
REPO_SETTINGS = REPO / "polyarch.toml"

# Variables that change what `docker compose config` or load_stack() sees.
COMPOSE_ENV = ("COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PATH_SEPARATOR", "POLYARCH_STACK")


def require_compose() -> None:
    """Fail the calling test unless compose readings come from the recorded stand-in (unit test modules only)."""
    if os.environ.get(BASETEMP_VARIABLE) is None:
        pytest.fail("compose readings in unit tests come from tests/recorded/compose through the docker stand-in, "
                    "which tests/conftest.py installs for test_unit_*.py modules only", pytrace=False)


@pytest.fixture
def compose_cli(monkeypatch):
    """For tests that load real compose files: readings come from recordings, and no COMPOSE_* variable steers them."""
    require_compose()
    for name in COMPOSE_ENV:
        monkeypatch.delenv(name, raising=False)


def load_clean(where: Path | str):
    """load_stack(where) without COMPOSE_* variables steering it.

    For module-scoped fixtures, which cannot use the `compose_cli` fixture.
    """
    from polyarch.model.loading import load_stack

    require_compose()
    with pytest.MonkeyPatch.context() as patch:
        for name in COMPOSE_ENV:
            patch.delenv(name, raising=False)
        return load_stack(str(where))


def load_repo_stack():
    """The repo's sample stack, read through (recorded) `docker compose config`."""
    return load_clean(REPO)


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


def read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(path.read_text(encoding="utf-8"))


def edit_settings(path: Path, change) -> Path:
    """Rewrite a polyarch.toml: `change(data)` edits the parsed TOML in place (comments are dropped)."""
    data = read_toml(path)
    change(data)
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write each relative path's text below root (folders created); returns root."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


# Stand-ins for the repo's Dockerfiles: the stages its compose files target, no real work.
STUB_DOCKERFILE = "FROM scratch AS dev\nFROM scratch AS prod\n"


def copy_repo_stack(dest: Path) -> Path:
    """Copy the repo's sample stack to `dest` with stand-in Dockerfiles.

    Copies polyarch.toml, .env.example and compose/; the build contexts the
    compose files name (../docker/server, ../docker/frontend) get a Dockerfile
    with the dev and prod stages, and the named context docker/common is
    created, so the stack loads. Returns the copy's polyarch.toml path.
    """
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "polyarch.toml", dest / "polyarch.toml")
    shutil.copy2(REPO / ".env.example", dest / ".env.example")
    shutil.copytree(REPO / "compose", dest / "compose")
    for context in ("docker/server", "docker/frontend"):
        (dest / context).mkdir(parents=True)
        (dest / context / "Dockerfile").write_text(STUB_DOCKERFILE)
    (dest / "docker/common").mkdir(parents=True)
    return dest / "polyarch.toml"


def mode_of(path: Path | str) -> int:
    """A file's permission bits (0o600 for a private file)."""
    return stat.S_IMODE(os.stat(path).st_mode)


def run_invoke(*args: str) -> int:
    """Run `invoke ARGS...` in-process against polyarch's namespace; return the exit code.

    Program.run(exit=True) calls sys.exit on Exit/ParseError (polyarch turns
    its errors into invoke.Exit with the error's exit code); a run that
    finishes normally does not exit, which counts as 0.
    """
    from invoke import Program

    from polyarch.cli.tasks import namespace

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
    import polyarch.core.console

    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "POLYARCH_DEBUG", "POLYARCH_STACK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "400")
    polyarch.core.console.err.cache_clear()
    yield
    polyarch.core.console.err.cache_clear()


def add_profiled_service(base: Path, image: str) -> None:
    """Add to a copy of compose/base.yaml a built service under a profile no mode turns on."""
    base.write_text(base.read_text().replace("services:\n", (
        "services:\n"
        "  debugger:\n"
        "    profiles: [tools]\n"
        f"    image: {image}\n"
        "    build:\n"
        "      context: ../docker/server\n"
        "      target: prod\n"
        "      additional_contexts:\n"
        "        common: ../docker/common\n"), 1))
