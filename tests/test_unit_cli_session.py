"""How a task finds and reads the stack (polyarch.cli.session): --stack, POLYARCH_STACK, walking up, and clear errors for a broken project."""

from __future__ import annotations

import json

import pytest
from test_unit_cli_tasks_devloop import stack_copy  # noqa: F401  (fixtures)
from test_unit_core_interpolate import project  # noqa: F401  (fixtures)
from unit_helpers import compose_cli, fresh_console, run_invoke, write_files  # noqa: F401  (fixtures)


@pytest.mark.parametrize("given", ["settings file", "folder"])
def test_dev_dry_run_finds_the_stack_through_the_env_var(stack_copy, capsys, monkeypatch, given):
    monkeypatch.setenv("POLYARCH_STACK", str(stack_copy if given == "settings file" else stack_copy.parent))
    code = run_invoke("dev", "--dry-run", "--verbose", "--platform", "arm64")
    err = capsys.readouterr().err
    assert code == 0, err
    assert str(stack_copy.parent / "docker" / "server") in err
    assert "linux/arm64" in err


def test_the_stack_is_found_upward_from_the_working_directory(stack_copy, capsys, monkeypatch):
    """From compose/ (no polyarch.toml or default compose file there) polyarch finds the project folder above."""
    monkeypatch.chdir(stack_copy.parent / "compose")
    code = run_invoke("down", "--dry-run")
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"-p polyarch -f {stack_copy.parent / 'compose' / 'base.yaml'}" in err


@pytest.mark.parametrize("name", ["polyarch.toml", "compose.yaml"])
def test_missing_stack_file_exits_with_a_tip(tmp_path, capsys, monkeypatch, fresh_console, name):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nowhere" / name
    code = run_invoke("dev", "--dry-run", "--platform", "linux/arm64", "--stack", str(missing))
    err = capsys.readouterr().err
    assert code == 2
    assert f"ERROR --stack points at {missing}, which does not exist." in err
    assert "TIP Give a project folder, its polyarch.toml or a compose file." in err
    assert "Traceback" not in err


def test_a_folder_without_a_project_is_refused(tmp_path, capsys, monkeypatch, fresh_console):
    monkeypatch.chdir(tmp_path)
    code = run_invoke("down", "--dry-run", "--stack", str(tmp_path))
    err = capsys.readouterr().err
    assert code == 2
    assert f"--stack points at {tmp_path}, which holds neither polyarch.toml nor a compose file" in err


def test_invalid_settings_file_names_the_key(stack_copy, capsys):
    text = stack_copy.read_text().replace('registry = ""', 'registy = ""')
    assert 'registy = ""' in text
    stack_copy.write_text(text)
    code = run_invoke("dev", "--dry-run", "--platform", "linux/arm64", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 2
    assert f"{stack_copy} has 1 problem" in err
    assert "project.registy is not a known key; did you mean 'registry'?" in err
    assert "Traceback" not in err


def test_a_mode_naming_a_missing_compose_file_is_refused(stack_copy, capsys):
    text = stack_copy.read_text().replace('files = ["compose/base.yaml", "compose/airtight.yaml"]',
                                          'files = ["compose/base.yaml", "compose/sealed.yaml"]')
    assert "sealed.yaml" in text
    stack_copy.write_text(text)
    code = run_invoke("down", "--dry-run", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 2
    assert f"mode 'airtight' names {stack_copy.parent / 'compose' / 'sealed.yaml'}, which does not exist." in err


def test_an_unknown_mode_is_refused_with_a_suggestion(stack_copy, capsys):
    code = run_invoke("build", "--dry-run", "--platform", "linux/arm64", "--mode", "prd", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 2
    assert "The stack has no mode 'prd' (did you mean 'prod'?) (modes: dev, prod, airtight)." in err
    assert "Dry run" not in err


def test_a_target_that_is_no_stage_of_the_dockerfile_is_refused(stack_copy, capsys):
    (stack_copy.parent / "docker/frontend/Dockerfile").write_text("FROM scratch AS prod\n")
    code = run_invoke("build", "--dry-run", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 2
    assert "target 'dev' is not a stage of" in err and "(stages: prod)" in err


def test_a_broken_compose_file_is_bad_input_naming_the_file_and_line(stack_copy, capsys):
    (stack_copy.parent / "compose" / "dev.yaml").write_text("services:\n  api: [not, a, mapping\n")
    code = run_invoke("build", "--dry-run", "--stack", str(stack_copy))
    captured = capsys.readouterr()
    assert code == 2
    assert "ERROR compose/dev.yaml is not valid YAML: line 3:" in captured.err
    assert "TIP Fix that line of compose/dev.yaml" in captured.err
    assert "doctor" not in captured.err
    assert "Traceback" not in captured.out + captured.err


def test_a_lone_compose_file_is_a_project_with_one_mode(tmp_path, capsys, monkeypatch, fresh_console, compose_cli):
    """--stack naming a compose file: one 'default' mode serves every task; no build target means the last stage."""
    root = write_files(tmp_path / "tiny", {
        "compose.yaml": "services:\n  web:\n    build: ./web\n  cache:\n    image: redis:7.2.4\n",
        "web/Dockerfile": "FROM scratch\n",
    })
    monkeypatch.chdir(tmp_path)
    code = run_invoke("build", "--dry-run", "--json", "--platform", "linux/amd64", "--stack", str(root / "compose.yaml"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    assert (document["project"], document["mode"], document["third_party"]) == ("tiny", "default", ["redis:7.2.4"])
    ((image),) = document["images"]
    assert (image["name"], image["services"], image["local_names"], image["target"]) == ("web", ["web"], ["tiny-web"], None)
    (build,) = document["plan"]["steps"]
    assert "target" not in build["bake_definition"]["target"]["web"]
    assert build["bake_definition"]["target"]["web"]["context"] == str(root / "web")


def test_verify_and_doctor_read_the_project_without_its_runtime_variables(compose_cli, project, monkeypatch):
    """They only need its platforms and signing key: a runtime ${VAR:?} (no .env, as in CI) must not stop them."""
    from polyarch.cli.session import stack_if_any

    for name in ("BUILD_TOKEN", "DB_PASSWORD", "FLASK_PORT"):
        monkeypatch.delenv(name, raising=False)
    found = stack_if_any(str(project))
    assert found is not None and found.platforms == ("linux/amd64", "linux/arm64")


@pytest.mark.parametrize("task", [["verify", "127.0.0.1:5000/x/y:1", "--platforms", "linux/amd64"], ["doctor"]])
def test_verify_and_doctor_refuse_a_stack_path_that_does_not_exist(tmp_path, task):
    """Only "no project here" falls back to the default platforms; a named path that is missing is an error."""
    from unit_helpers import run_invoke

    missing = str(tmp_path / "nope")
    assert run_invoke(*task, "--stack", missing) == 2
