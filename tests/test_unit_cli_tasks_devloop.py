"""The developer loop's tasks (polyarch.cli.tasks.devloop: dev, build, rebuild, prod-build, down, logs,
nuke ...) run through invoke's Program on a copy of the sample stack, with --dry-run where they would touch an engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from unit_helpers import (  # noqa: F401  (fixtures)
    REPO, add_profiled_service, compose_cli, copy_repo_stack, fresh_console, run_invoke
)

from polyarch.core.platforms import KNOWN_PLATFORMS


LOCAL_DEV_TAGS = ("polyarch-api:dev", "polyarch-worker:dev", "polyarch-scheduler:dev", "polyarch-frontend:dev")
LOCAL_PROD_TAGS = tuple(t.replace(":dev", ":latest") for t in LOCAL_DEV_TAGS)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` with its content, to prove a run changed nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def stack_copy(tmp_path, monkeypatch, fresh_console, compose_cli):
    """A copy of the repo's stack in tmp_path (its polyarch.toml), run from an unrelated working directory."""
    path = copy_repo_stack(tmp_path / "project")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return path


def write_env(project: Path) -> None:
    """A .env with the values a prod mode requires."""
    (project / ".env").write_text("SECRET_KEY=k\nAPI_TOKEN=t\n")


@pytest.mark.parametrize("platform", ["linux/arm64", "linux/amd64"])
def test_dev_dry_run_prints_the_plan_and_changes_nothing(stack_copy, capsys, platform):
    project = stack_copy.parent
    before = snapshot(project)
    repo_env_existed = (REPO / ".env").exists()

    code = run_invoke("dev", "--dry-run", "--verbose", "--platform", platform, "--stack", str(stack_copy))

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
    assert "POLYARCH_TAG" not in err  # the compose files name their images themselves
    assert "--load" in err and "--no-build" in err
    assert str(project / "compose" / "dev.yaml") in err
    assert str(project / "docker" / "common") in err  # the named context, from compose's additional_contexts
    other = "linux/amd64" if platform == "linux/arm64" else "linux/arm64"
    assert other not in err  # only the platform asked for
    assert captured.out == ""  # people-facing output goes to stderr only
    # nothing written: no .env in the copy, the repo's .env untouched
    assert snapshot(project) == before
    assert not (project / ".env").exists()
    assert (REPO / ".env").exists() == repo_env_existed


@pytest.mark.parametrize(
    ("args", "expected", "absent"),
    [
        (("build", "--dry-run", "--platform", "linux/arm64"),
         ["polyarch-api:dev", "--load", "build server, frontend for linux/arm64"], ["polyarch-api:latest"]),
        (("build", "--dry-run", "--platform", "linux/amd64", "--mode", "prod"),
         ["polyarch-api:latest", "server: target prod, linux/amd64"], ["target dev"]),
        (("build", "--dry-run", "--platform", "linux/amd64", "--services", "frontend"),
         ["build frontend for linux/amd64", "polyarch-frontend:dev"], ["polyarch-api:dev", '"server"']),
        (("dev", "--dry-run", "--platform", "linux/amd64", "--mode", "airtight"),
         ["start the airtight stack", "polyarch-api:latest", "airtight.yaml", "up --detach"], ["polyarch-api:dev"]),
        (("down", "--dry-run"), ["down --remove-orphans", "airtight.yaml"], ["--volumes", "remove images"]),
        (("clean", "--dry-run"), ["down --remove-orphans --volumes"], ["remove images"]),
        (("nuke", "--dry-run"), ["remove images", *LOCAL_DEV_TAGS, *LOCAL_PROD_TAGS], ["prune"]),
        (("restart", "--dry-run", "--mode", "dev", "--platform", "linux/arm64"),
         ["stop the stack", "down --remove-orphans", "start the dev stack", "dev.yaml", "up --detach --wait --no-build"],
         ["buildx bake"]),
    ],
)
def test_other_dry_runs_plan_without_changes(stack_copy, capsys, args, expected, absent):
    before = snapshot(stack_copy.parent)
    code = run_invoke(*args, "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Dry run, nothing will change" in err
    for piece in expected:
        assert piece in err
    for piece in absent:
        assert piece not in err
    assert snapshot(stack_copy.parent) == before


@pytest.mark.parametrize(
    ("args", "expected", "absent"),
    [
        (("prod-build", "--dry-run", "--platform", "linux/amd64"),
         ["polyarch-frontend:latest", "base.yaml", "up --detach --wait --no-build --pull missing --remove-orphans"], ["--no-cache", "--volumes"]),
        (("prod-build", "--dry-run", "--platform", "linux/amd64", "--fresh"),
         ["down --remove-orphans --volumes", "remove images polyarch-api:dev", "--load --no-cache server frontend"], []),
    ],
)
def test_prod_build_dry_runs_with_an_env_file(stack_copy, capsys, args, expected, absent):
    write_env(stack_copy.parent)
    before = snapshot(stack_copy.parent)
    code = run_invoke(*args, "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Dry run, nothing will change: start the prod stack for linux/amd64" in err
    for piece in expected:
        assert piece in err
    for piece in absent:
        assert piece not in err
    assert snapshot(stack_copy.parent) == before


def test_rebuild_dry_run_touches_only_the_named_services(stack_copy, capsys):
    project = stack_copy.parent
    code = run_invoke("rebuild", "worker,api", "--dry-run", "--platform", "linux/arm64", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Dry run, nothing will change: rebuild and restart worker, api (dev) for linux/arm64" in err
    assert f"-f {project / 'compose' / 'dev.yaml'} rm --force --stop worker api" in err
    assert "build server for linux/arm64" in err and "polyarch-scheduler:dev" in err  # one image, all its names
    assert "up --detach --wait --no-build --pull missing worker api" in err
    assert '"frontend"' not in err


def test_rebuild_needs_a_service(stack_copy, capsys):
    code = run_invoke("rebuild", ",", "--dry-run", "--platform", "linux/arm64", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 2
    assert "Name at least one service to rebuild" in err
    assert "Dry run" not in err


@pytest.mark.parametrize("task", [("build", "--services", "apii"), ("rebuild", "apii")])
def test_an_unknown_service_is_refused_with_a_suggestion(stack_copy, capsys, task):
    code = run_invoke(*task, "--dry-run", "--platform", "linux/arm64", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 2
    assert "Mode 'dev' has no service 'apii' (did you mean 'api'?)" in err
    assert "Services: api, frontend, init, scheduler, worker." in err
    assert "Dry run" not in err and "Traceback" not in err


def test_dev_json_plan_is_the_only_stdout(stack_copy, capsys):
    project = stack_copy.parent
    before = snapshot(project)
    code = run_invoke("dev", "--dry-run", "--json", "--platform", "linux/arm64", "--stack", str(stack_copy))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)  # the whole of stdout is one JSON document
    assert "Dry run" not in captured.err  # the plan is not printed twice
    assert document["schema"] == 1
    assert (document["project"], document["root"], document["mode"]) == ("polyarch", str(project), "dev")
    assert document["compose_files"] == [str(project / "compose/base.yaml"), str(project / "compose/dev.yaml")]
    assert document["third_party"] == ["busybox:1.36.1"]
    images = {i["name"]: i for i in document["images"]}
    assert list(images) == ["server", "frontend"]
    assert images["server"]["services"] == ["api", "scheduler", "worker"]
    assert images["server"]["local_names"] == ["polyarch-api:dev", "polyarch-scheduler:dev", "polyarch-worker:dev"]
    assert images["server"]["contexts"] == {"common": str(project / "docker/common")}
    assert images["frontend"]["build_args"] == {"PUBLIC_APP_TITLE": "polyarch sample stack"}
    for image in images.values():
        assert (image["target"], image["platforms"]) == ("dev", ["linux/arm64"])
        assert image["tags"] == image["local_names"]
    plan = document["plan"]
    assert plan["title"] == "start the dev stack for linux/arm64"
    assert [s["kind"] for s in plan["steps"]] == ["Build", "Pull", "ComposeUp"]
    assert plan["steps"][2]["compose"]["variables"] == [["DOCKER_DEFAULT_PLATFORM", "linux/arm64"]]
    assert snapshot(project) == before


def test_nuke_json_plan_is_not_tied_to_a_mode(stack_copy, capsys):
    code = run_invoke("nuke", "--dry-run", "--json", "--stack", str(stack_copy))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    assert document["mode"] is None and document["images"] == [] and document["third_party"] == []
    assert len(document["compose_files"]) == 3
    kinds = [s["kind"] for s in document["plan"]["steps"]]
    assert kinds == ["ComposeDown", "RemoveImages"]
    remove = document["plan"]["steps"][1]
    assert sorted(remove["refs"]) == sorted(LOCAL_DEV_TAGS + LOCAL_PROD_TAGS)
    assert remove["prune_dangling"] is False


@pytest.mark.parametrize("task", [("dev", "--platform", "linux/arm64"), ("nuke",)])
def test_json_needs_dry_run(stack_copy, capsys, task):
    before = snapshot(stack_copy.parent)
    code = run_invoke(*task, "--json", "--stack", str(stack_copy))
    captured = capsys.readouterr()
    assert code == 2
    assert "--json prints a plan, so it needs --dry-run." in captured.err
    assert captured.out == ""
    assert snapshot(stack_copy.parent) == before


class FakeEngine:
    """Test double for the engine: records what `logs` asks for; the stack has two containers (a real one is in the engine tests)."""

    def __init__(self):
        self.calls = []

    def project_resources(self, project):
        return {"containers": [f"{project}-api-1", f"{project}-worker-1"], "networks": [], "volumes": []}

    def compose_logs(self, compose, services, follow, tail):
        self.calls.append((compose, services, follow, tail))
        return iter(["api-1  | ready\n", "worker-1  | ready\n"])


def test_logs_passes_services_and_tail_to_compose(stack_copy, capsys, monkeypatch):
    from polyarch.cli.session import Session

    fake = FakeEngine()
    monkeypatch.setattr(Session, "engine", lambda self: fake)
    code = run_invoke("logs", "--services", "api,worker", "--tail", "all", "--no-follow", "--stack", str(stack_copy))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    ((compose, services, follow, tail),) = fake.calls
    assert (services, follow, tail) == (["api", "worker"], False, "all")
    assert compose.project == "polyarch" and len(compose.files) == 3 and compose.variables == ()
    assert captured.out.splitlines() == ["api-1  | ready", "worker-1  | ready"]


@pytest.mark.parametrize(("args", "message"), [
    (("--tail", "ten"), "--tail must be a number of lines or 'all', not 'ten'."),
    (("--services", "api,nope"), "The stack has no service nope (services: api, frontend, init, scheduler, worker)."),
])
def test_logs_refuses_bad_input_before_asking_the_engine(stack_copy, capsys, monkeypatch, args, message):
    from polyarch.cli.session import Session

    fake = FakeEngine()
    monkeypatch.setattr(Session, "engine", lambda self: fake)
    code = run_invoke("logs", *args, "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    # One ERROR line, then one TIP line, whatever the error.
    assert [line.split()[0] for line in err.splitlines() if line.split()[:1] in (["ERROR"], ["TIP"])] == ["ERROR", "TIP"]
    assert fake.calls == []


def test_logs_old_service_flag_is_gone(stack_copy, capsys):
    code = run_invoke("logs", "--service", "api", "--stack", str(stack_copy))
    captured = capsys.readouterr()
    assert code == 1
    assert "No idea what '--service' is!" in captured.out + captured.err


@pytest.mark.parametrize("task", [("dev",), ("build",), ("prod-build",), ("rebuild", "api")])
def test_bad_platform_exits_non_zero_listing_valid_forms(stack_copy, capsys, task):
    write_env(stack_copy.parent)  # prod-build checks .env first, even in a dry run
    before = snapshot(stack_copy.parent)
    code = run_invoke(*task, "--dry-run", "--platform", "linux/amd65", "--stack", str(stack_copy))
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


@pytest.mark.parametrize("task", [("prod-build", "--platform", "linux/amd64"),
                                  ("prod-build", "--dry-run", "--platform", "linux/amd64")])
def test_prod_build_refuses_without_env(stack_copy, capsys, task):
    code = run_invoke(*task, "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 1
    assert ".env does not exist" in err and "invoke init" in err
    assert "Dry run" not in err  # a dry run fails on input exactly as the real run would
    assert not (stack_copy.parent / ".env").exists()


def test_prod_build_refuses_empty_required_values(stack_copy, capsys):
    (stack_copy.parent / ".env").write_text("SECRET_KEY=k\nAPI_TOKEN=\n")
    code = run_invoke("prod-build", "--dry-run", "--platform", "linux/amd64", "--stack", str(stack_copy))
    err = capsys.readouterr().err
    assert code == 1
    assert ".env has no value for API_TOKEN" in err


def test_nuke_removes_the_images_of_services_under_an_inactive_profile(stack_copy, capsys):
    """A service under a compose profile no mode turns on is not in the modes, yet its image carries the stack's name."""
    base = stack_copy.parent / "compose" / "base.yaml"
    add_profiled_service(base, "polyarch-debugger:latest")
    assert run_invoke("nuke", "--dry-run", "--json", "--stack", str(stack_copy)) == 0
    remove = next(s for s in json.loads(capsys.readouterr().out)["plan"]["steps"] if s["kind"] == "RemoveImages")
    assert "polyarch-debugger:latest" in remove["refs"] and "polyarch-api:latest" in remove["refs"]
    assert "busybox:1.36.1" not in remove["refs"]
    assert run_invoke("dev", "--dry-run", "--json", "--stack", str(stack_copy)) == 0
    assert "polyarch-debugger" not in capsys.readouterr().out  # dev still leaves the profile off


def test_a_dev_dry_run_without_env_says_init_creates_it_first(stack_copy, capsys):
    """The real run creates .env with `init` before it plans; the dry run says so in the plan's notes."""
    env = stack_copy.parent / ".env"
    assert not env.exists()
    assert run_invoke("dev", "--platform", "linux/amd64", "--dry-run", "--stack", str(stack_copy)) == 0
    assert "`invoke init` creates it from .env.example" in capsys.readouterr().err
    assert run_invoke("dev", "--platform", "linux/amd64", "--dry-run", "--json", "--stack", str(stack_copy)) == 0
    notes = json.loads(capsys.readouterr().out)["plan"]["notes"]
    assert [n for n in notes if "init" in n and ".env.example" in n]
    assert not env.exists()


@pytest.fixture
def project(tmp_path, monkeypatch, fresh_console, compose_cli):
    path = copy_repo_stack(tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    return path.parent


@pytest.mark.parametrize("example", [True, False], ids=["init creates .env", "no .env at all"])
def test_a_dev_dry_run_without_env_passes_an_env_file_only_when_the_real_run_will_have_one(project, capsys, example):
    if not example:
        (project / ".env.example").unlink()
    code = run_invoke("dev", "--dry-run", "--platform", "linux/amd64", "--stack", str(project))
    err = capsys.readouterr().err
    assert code == 0, err
    assert (f"--env-file {project / '.env'}" in err) is example
    code = run_invoke("dev", "--dry-run", "--json", "--platform", "linux/amd64", "--stack", str(project))
    up = json.loads(capsys.readouterr().out)["plan"]["steps"][-1]
    assert code == 0 and up["kind"] == "ComposeUp"
    assert up["compose"]["env_files"] == ([str(project / ".env")] if example else [])
    assert not (project / ".env").exists()
