"""Tasks run in-process through invoke's Program: listing, dry runs, errors, init.

No engine is needed: every run here either only plans (--dry-run with an
explicit --platform, so the engine is never asked for its architecture) or
only touches the .env of a temporary copy of the stack.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from polyarch.envfile import read_env
from polyarch.platforms import KNOWN_PLATFORMS
from unit_helpers import REPO, copy_repo_stack, fresh_console, run_invoke  # noqa: F401  (fixture)

SECRETS = ("SECRET_KEY", "API_TOKEN", "WORKER_SHARED_SECRET")
DEVLOOP_TASKS = ("init", "dev", "build", "down", "logs", "restart", "clean", "nuke", "prod-build", "doctor")
LOCAL_DEV_TAGS = ("polyarch-api:dev", "polyarch-worker:dev", "polyarch-scheduler:dev", "polyarch-frontend:dev")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` with its content, to prove a run changed nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def stack_copy(tmp_path, monkeypatch, fresh_console):
    """A copy of the repo's stack in tmp_path, run from an unrelated working directory."""
    path = copy_repo_stack(tmp_path / "project")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return path


# --- listing ---------------------------------------------------------------------


def test_list_shows_every_task(capsys, fresh_console):
    from polyarch.tasks import namespace

    code = run_invoke("--list")
    out = capsys.readouterr().out
    assert code == 0
    listed = set(re.findall(r"^  (\S+)", out, flags=re.MULTILINE))
    assert set(DEVLOOP_TASKS) <= listed
    assert set(namespace().task_names) == listed


# --- dry runs ---------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["linux/arm64", "linux/amd64"])
def test_dev_dry_run_prints_the_plan_and_changes_nothing(stack_copy, capsys, platform):
    project = stack_copy.parent
    before = snapshot(project)
    repo_env_existed = (REPO / ".env").exists()

    code = run_invoke("dev", "--dry-run", "--platform", platform, "--stack", str(stack_copy))

    captured = capsys.readouterr()
    assert code == 0, captured.err
    err = captured.err
    assert "Dry run, nothing will change" in err
    assert f"Platform: {platform}" in err
    for image in ("server", "frontend"):
        assert f'"{image}"' in err  # a bake target per image
    for tag in LOCAL_DEV_TAGS:
        assert tag in err
    assert f"DOCKER_DEFAULT_PLATFORM={platform}" in err
    assert "POLYARCH_TAG=dev" in err
    assert "--load" in err
    assert str(project / "compose" / "dev.yaml") in err
    other = "linux/amd64" if platform == "linux/arm64" else "linux/arm64"
    assert other not in err  # only the platform asked for
    assert captured.out == ""  # people-facing output goes to stderr only
    # nothing written: no .env in the copy, the repo's .env untouched
    assert snapshot(project) == before
    assert not (project / ".env").exists()
    assert (REPO / ".env").exists() == repo_env_existed


def test_dev_dry_run_finds_the_stack_through_the_env_var(stack_copy, capsys, monkeypatch):
    monkeypatch.setenv("POLYARCH_STACK", str(stack_copy))
    code = run_invoke("dev", "--dry-run", "--platform", "arm64")
    err = capsys.readouterr().err
    assert code == 0, err
    assert str(stack_copy.parent / "docker" / "server") in err
    assert "linux/arm64" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("build", "--dry-run", "--platform", "linux/arm64"), ["polyarch-api:dev", "--load", "build server, frontend"]),
        (("build", "--dry-run", "--platform", "linux/amd64", "--mode", "prod"),
         ["polyarch-api:latest", '"target": "prod"']),
        (("prod-build", "--dry-run", "--platform", "linux/amd64"), ["polyarch-frontend:latest", "POLYARCH_TAG=latest"]),
        (("down", "--dry-run"), ["down --remove-orphans", "airtight.yaml"]),
        (("clean", "--dry-run"), ["--volumes"]),
        (("nuke", "--dry-run"), ["remove images", "polyarch-api:dev", "polyarch-api:latest", "prune dangling"]),
    ],
)
def test_other_dry_runs_plan_without_changes(stack_copy, capsys, args, expected):
    before = snapshot(stack_copy.parent)
    code = run_invoke(*args, "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Dry run, nothing will change" in err
    for piece in expected:
        assert piece in err
    assert snapshot(stack_copy.parent) == before


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["dev", "build", "prod-build"])
def test_bad_platform_exits_non_zero_listing_valid_forms(stack_copy, capsys, task):
    before = snapshot(stack_copy.parent)
    code = run_invoke(task, "--dry-run", "--platform", "linux/amd65", "--stack", str(stack_copy))
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert code == 2
    assert "ERROR" in captured.err
    assert "'linux/amd65'" in captured.err
    for platform in KNOWN_PLATFORMS:
        assert platform in captured.err
    assert "Traceback" not in output
    assert "Dry run" not in output  # failed before planning
    assert snapshot(stack_copy.parent) == before


def test_two_platforms_for_a_host_task_is_refused(stack_copy, capsys):
    code = run_invoke("dev", "--dry-run", "--platform", "linux/amd64,linux/arm64", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 2
    assert "must name one platform" in err
    assert "Traceback" not in err


def test_missing_stack_file_exits_with_a_tip(tmp_path, capsys, monkeypatch, fresh_console):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nowhere" / "stack.toml"
    code = run_invoke("dev", "--dry-run", "--platform", "linux/arm64", "--stack", str(missing))
    err = capsys.readouterr().err
    assert code == 2
    assert "ERROR" in err and str(missing) in err
    assert "TIP" in err
    assert "Traceback" not in err


def test_invalid_stack_file_names_the_key(stack_copy, capsys):
    text = stack_copy.read_text().replace('init = "busybox:1.36.1"', 'init = "busybox"')
    assert 'init = "busybox"' in text
    stack_copy.write_text(text)
    code = run_invoke("dev", "--dry-run", "--platform", "linux/arm64", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 2
    assert "third_party.init" in err and str(stack_copy) in err
    assert "Traceback" not in err


def test_prod_build_refuses_without_env(stack_copy, capsys):
    code = run_invoke("prod-build", "--platform", "linux/amd64", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 1
    assert ".env does not exist" in err and "invoke init" in err
    assert not (stack_copy.parent / ".env").exists()


# --- init ---------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_init_creates_private_env_without_printing_secrets(stack_copy, capsys):
    env = stack_copy.parent / ".env"
    code = run_invoke("init", "--stack", str(stack_copy))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert env.is_file()
    assert _mode(env) == 0o600
    values = read_env(env)
    secrets = [values[k] for k in SECRETS]
    assert all(re.fullmatch(r"[0-9a-f]{64}", s) for s in secrets)
    assert len(set(secrets)) == 3
    for secret in secrets:
        assert secret not in captured.out
        assert secret not in captured.err
    assert "created" in captured.err and "0600" in captured.err
    for key in SECRETS:
        assert key in captured.err  # it says which keys it filled
    assert values["API_PORT"] == "5080"  # the rest comes from .env.example


def test_init_twice_keeps_the_secrets(stack_copy, capsys):
    env = stack_copy.parent / ".env"
    assert run_invoke("init", "--stack", str(stack_copy)) == 0
    first = env.read_text()
    capsys.readouterr()
    assert run_invoke("init", "--stack", str(stack_copy)) == 0
    err = capsys.readouterr().err
    assert env.read_text() == first
    assert "nothing to do" in err


def test_init_keeps_user_values_and_force_replaces_them(stack_copy, capsys):
    env = stack_copy.parent / ".env"
    env.write_text("SECRET_KEY=chosen-by-me\nAPI_TOKEN=\n")
    env.chmod(0o644)
    assert run_invoke("init", "--stack", str(stack_copy)) == 0
    values = read_env(env)
    assert values["SECRET_KEY"] == "chosen-by-me"
    assert re.fullmatch(r"[0-9a-f]{64}", values["API_TOKEN"])
    assert _mode(env) == 0o600
    err = capsys.readouterr().err
    assert "kept" in err and "SECRET_KEY" in err
    assert values["API_TOKEN"] not in err

    assert run_invoke("init", "--force", "--stack", str(stack_copy)) == 0
    forced = read_env(env)
    assert forced["SECRET_KEY"] != "chosen-by-me"
    assert forced["API_TOKEN"] != values["API_TOKEN"]
    assert forced["SECRET_KEY"] not in capsys.readouterr().err


def test_every_flag_of_every_task_has_a_help_text():
    # In a fresh process: invoke's Task.get_arguments() consumes the help
    # texts, and other tests in this process have already parsed these tasks.
    import subprocess
    import sys

    script = (
        "from polyarch.tasks import namespace\n"
        "ns = namespace()\n"
        "for name in sorted(ns.task_names):\n"
        "    for arg in ns[name].get_arguments():\n"
        "        print(name, arg.name, bool(arg.help))\n"
    )
    lines = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(lines) > 40
    assert [line for line in lines if line.endswith("False")] == []
