"""A task reads the compose files of the mode it runs, and checks only the builds it builds (polyarch.cli.tasks.devloop).

A fresh clone has no `.env` yet, so a prod file that needs a variable from it
cannot be read; tasks of the dev mode, `init` and `down` still work. A target
machine has no source tree, so `prod` and `prod-airtight` check no build
context. Needs only the docker CLI's compose plugin, no engine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from unit_helpers import compose_cli, fresh_console, run_invoke, write_files  # noqa: F401  (fixtures)


FILES = {
    "web/Dockerfile": "FROM alpine AS prod\nFROM alpine AS dev\n",
    "compose.yaml": "services:\n  web:\n    build: {context: ./web, target: prod}\n    image: 127.0.0.1:5000/shop/web:latest\n",
    "compose.override.yaml": "services:\n  web:\n    build: {context: ./web, target: dev}\n",
    "compose.prod.yaml": 'services:\n  web:\n    ports: ["${FLASK_PORT}:${FLASK_PORT}"]\n',
    ".env.example": "FLASK_PORT=5000\n",
}


def fresh_clone(tmp_path: Path) -> Path:
    """A project whose prod file needs FLASK_PORT, which only `.env` (not there yet) sets."""
    return write_files(tmp_path / "shop", FILES)


def run(root: Path, *args: str) -> int:
    return run_invoke(*args, "--stack", str(root))


def test_init_on_a_fresh_clone_creates_env_without_reading_compose_files(tmp_path, compose_cli, fresh_console, capsys):
    root = fresh_clone(tmp_path)
    # Not even the dev files read: init reads no compose file at all.
    (root / "compose.override.yaml").write_text("services:\n  web: [not, a, mapping\n")
    code = run(root, "init")
    err = capsys.readouterr().err
    assert code == 0, err
    assert (root / ".env").read_text() == "FLASK_PORT=5000\n"


def test_dev_and_build_plan_the_dev_mode_when_the_prod_file_cannot_be_read(tmp_path, compose_cli, fresh_console, capsys):
    root = fresh_clone(tmp_path)
    for task in ("dev", "build"):
        code = run(root, task, "--dry-run", "--platform", "linux/amd64")
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "FLASK_PORT" not in err
        assert "web: target dev" in err
    assert not (root / ".env").exists()


def test_build_json_plans_the_dev_target(tmp_path, compose_cli, fresh_console, capsys):
    root = fresh_clone(tmp_path)
    code = run_invoke("build", "--dry-run", "--platform", "linux/amd64", "--json", "--stack", str(root))
    out, err = capsys.readouterr()
    assert code == 0, err
    assert '"target": "dev"' in out and '"target": "prod"' not in out


@pytest.mark.parametrize("task", ["down", "clean", "nuke"])
def test_down_stops_with_the_modes_it_can_read_and_names_the_one_it_cannot(tmp_path, compose_cli, fresh_console, capsys, task):
    root = fresh_clone(tmp_path)
    code = run(root, task, "--dry-run")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "mode 'prod' is left out" in err and "FLASK_PORT" in err
    assert "compose.override.yaml" in err and " down" in err and "compose.prod.yaml" not in err.split("left out")[1].split("\n", 1)[1]


def test_a_task_of_the_unreadable_mode_still_says_which_variable_to_set(tmp_path, compose_cli, fresh_console, capsys):
    root = fresh_clone(tmp_path)
    code = run(root, "prod-build", "--dry-run", "--platform", "linux/amd64")
    err = capsys.readouterr().err
    assert code == 2, err
    assert "ERROR compose.prod.yaml: compose cannot read it without the variable FLASK_PORT, which has no value" in err
    assert "TIP Set FLASK_PORT in .env or in the environment; `invoke init` creates .env from .env.example" in err


def target_machine(tmp_path: Path) -> Path:
    """Only the compose files, .env and the example: no build context, no Dockerfile."""
    root = fresh_clone(tmp_path)
    (root / ".env").write_text("FLASK_PORT=5000\n")
    shutil.rmtree(root / "web")
    return root


def test_building_still_checks_the_build_context(tmp_path, compose_cli, fresh_console, capsys):
    root = target_machine(tmp_path)
    code = run(root, "build", "--dry-run", "--platform", "linux/amd64")
    err = capsys.readouterr().err
    assert code == 2
    assert "is not a folder" in err
