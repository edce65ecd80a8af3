"""The init task (polyarch.cli.tasks.devloop): a private .env with fresh secrets, never printed, never outside the project."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_unit_cli_tasks_devloop import stack_copy  # noqa: F401  (fixtures)
from unit_helpers import compose_cli, copy_repo_stack, fresh_console, mode_of, run_invoke, write_files  # noqa: F401  (fixtures)

from polyarch.core.masking import Secrets
from polyarch.model.envfile import read_env


SECRETS = ("SECRET_KEY", "API_TOKEN", "WORKER_SHARED_SECRET")


def test_init_creates_private_env_without_printing_secrets(stack_copy, capsys):
    env = stack_copy.parent / ".env"
    code = run_invoke("init", "--stack", str(stack_copy))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert env.is_file()
    assert mode_of(env) == 0o600
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
    assert mode_of(env) == 0o600
    err = capsys.readouterr().err
    assert "kept" in err and "SECRET_KEY" in err
    assert values["API_TOKEN"] not in err

    assert run_invoke("init", "--force", "--stack", str(stack_copy)) == 0
    forced = read_env(env)
    assert forced["SECRET_KEY"] != "chosen-by-me"
    assert forced["API_TOKEN"] != values["API_TOKEN"]
    assert forced["SECRET_KEY"] not in capsys.readouterr().err


def test_init_dry_run_prints_the_plan_and_writes_nothing(stack_copy, capsys):
    env = stack_copy.parent / ".env"
    assert run_invoke("init", "--dry-run", "--stack", str(stack_copy)) == 0
    err = capsys.readouterr().err
    assert not env.exists()
    assert "Dry run, nothing will change" in err and f"create {env} (mode 0600) from" in err
    for key in SECRETS:
        assert key in err
    env.write_text("SECRET_KEY=chosen-by-me\n")
    env.chmod(0o644)
    assert run_invoke("init", "--dry-run", "--json", "--stack", str(stack_copy)) == 0
    captured = capsys.readouterr()
    (step,) = json.loads(captured.out)["plan"]["steps"]
    assert step["kind"] == "InitEnv" and step["create"] is False and step["kept"] == ["SECRET_KEY"]
    assert "SECRET_KEY" not in step["fill"] and step["fill"]
    assert env.read_text() == "SECRET_KEY=chosen-by-me\n" and mode_of(env) == 0o644
    assert "chosen-by-me" not in captured.out + captured.err


def test_init_json_needs_dry_run(stack_copy, capsys):
    assert run_invoke("init", "--json", "--stack", str(stack_copy)) == 2
    assert not (stack_copy.parent / ".env").exists()


def test_init_then_prod_build_dry_run_passes(stack_copy, capsys, monkeypatch):
    """init fills every required key, so the prod-build check that refused before now lets the plan through."""
    import polyarch.model.envfile

    # The same secrets every run, so the compose reading of the .env init writes is a recorded one.
    monkeypatch.setattr(polyarch.model.envfile, "new_secret", lambda: "0" * 64)
    assert run_invoke("init", "--stack", str(stack_copy)) == 0
    capsys.readouterr()
    code = run_invoke("prod-build", "--dry-run", "--platform", "linux/arm64", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 0, err
    assert "start the prod stack for linux/arm64" in err


def _small_project(root: Path, settings: str) -> Path:
    from unit_helpers import write_files

    return write_files(root, {"compose.yaml": "services:\n  app:\n    build: ./app\n", "app/Dockerfile": "FROM scratch\n",
                              "polyarch.toml": settings})


OUTSIDE = [
    ('[project]\nenv_file = "../outside/written.env"\n', "project.env_file"),
    ('[project]\nenv_example = "../outside/victim.env"\n', "project.env_example"),
    ('[project]\nvalues_file = "/etc/hostname"\n', "project.values_file"),
    ('[optional.x]\ncontext = "app"\ndockerfile = "../../../../etc/passwd"\n', "optional.x.dockerfile"),
    ('[project]\nenv_file = "linked.env"\n', "project.env_file"),  # a symlink that points outside
]


@pytest.mark.parametrize(("settings", "key"), OUTSIDE, ids=["env_file", "env_example", "values_file", "dockerfile", "symlink"])
def test_a_path_outside_the_project_is_refused_before_init_writes(settings, key, tmp_path, monkeypatch, capsys, fresh_console):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.env").write_text("STOLEN=yes\n")
    project = _small_project(tmp_path / "acme", settings)
    (project / "linked.env").symlink_to(outside / "written.env")
    monkeypatch.chdir(project)
    assert run_invoke("init") == 2
    err = capsys.readouterr().err
    assert key in err and ("outside the project" in err or "absolute path" in err) and "Traceback" not in err
    assert sorted(p.name for p in outside.iterdir()) == ["victim.env"]
    assert not (project / ".env").exists()


def test_secrets_init_generates_are_hidden_at_once(tmp_path, monkeypatch, fresh_console, compose_cli):
    """`dev` runs init after reading the stack: the fresh secrets are hidden from compose's output too."""
    from polyarch.core import console
    from polyarch.model.envfile import read_env
    from polyarch.model.loading import load_stack
    from polyarch.cli.tasks.devloop import run_init

    stack = load_stack(str(copy_repo_stack(tmp_path / "project")))
    monkeypatch.setattr(console, "_secrets", Secrets())
    run_init(stack)
    token = read_env(stack.env_file)["API_TOKEN"]
    assert console.redact(f"compose said {token}") == "compose said ***"
