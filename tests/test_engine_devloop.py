"""The developer loop on the real engine: dev, logs, restart, prod-build, down, clean, nuke.

Each test drives `invoke` in a subprocess against a fresh copy of the sample
stack (so the repo's own .env is never touched) and checks the result against
the engine and the running services, not just the exit code.
"""

from __future__ import annotations

import json
import platform
import shutil
import socket
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, run_invoke
from unit_helpers import add_profiled_service

from polyarch.model.envfile import read_env

API = "http://127.0.0.1:5080/healthz"
FRONTEND = "http://127.0.0.1:3000/"
PROJECT = "polyarch-devtest"


def copy_stack(dest: Path, name: str = PROJECT) -> Path:
    """A clean checkout of the sample stack, under another compose project and image names.

    Only the compose files' `name:` and image names change, the way a user
    would fork the sample; polyarch.toml is copied as it is.
    """
    for item in ("compose", "docker"):
        shutil.copytree(REPO / item, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
    for compose_file in (dest / "compose").glob("*.yaml"):
        text = compose_file.read_text()
        text = text.replace("name: polyarch\n", f"name: {name}\n").replace("image: polyarch-", f"image: {name}-")
        compose_file.write_text(text)
    shutil.copy(REPO / ".env.example", dest / ".env.example")
    shutil.copy(REPO / "polyarch.toml", dest / "polyarch.toml")
    return dest / "polyarch.toml"


def get_json(url: str, timeout: float = 5) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.load(resp)


def wait_for(check, seconds: float = 60, every: float = 1):
    """Poll `check()` until it returns a truthy value; return the last value."""
    deadline = time.monotonic() + seconds
    value = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(every)
    return value


def both_heartbeats_fresh():
    health = get_json(API)
    beats = health.get("heartbeats") or {}
    if all((beats.get(s) or {}).get("fresh") for s in ("worker", "scheduler")):
        return health
    return None


def resources(engine) -> dict[str, list[str]]:
    label = f"com.docker.compose.project={PROJECT}"
    return {
        "containers": [c.name for c in engine.container.list(all=True, filters={"label": label})],
        "networks": [n.name for n in engine.network.list(filters={"label": label})],
        "volumes": [v.name for v in engine.volume.list(filters={"label": label})],
    }


@pytest.fixture(scope="module")
def stack_file(engine, tmp_path_factory):
    path = copy_stack(tmp_path_factory.mktemp("checkout"))
    yield path
    run_invoke(["nuke", "--stack", str(path)], check=False)


@pytest.fixture(scope="module")
def dev_run(stack_file):
    """`invoke dev` from a clean checkout with no .env."""
    assert not (stack_file.parent / ".env").exists()
    return run_invoke(["dev", "--stack", str(stack_file)])


def test_dev_creates_a_private_env_and_never_prints_its_secrets(stack_file, dev_run):
    env_file = stack_file.parent / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = read_env(env_file)
    for key in ("SECRET_KEY", "API_TOKEN", "WORKER_SHARED_SECRET"):
        assert len(values[key]) == 64
        assert values[key] not in dev_run.stdout + dev_run.stderr
    assert "running `invoke init` first" in dev_run.stderr


def test_dev_says_which_platform_it_chose_and_why(dev_run):
    assert f"platform.machine() said '{platform.machine()}'" in dev_run.stderr or "Docker engine reports" in dev_run.stderr


def test_dev_stack_answers_with_the_host_arch_and_fresh_heartbeats(dev_run):
    health = wait_for(both_heartbeats_fresh, 60)
    assert health, f"heartbeats never became fresh: {get_json(API)}"
    assert health["machine"] == platform.machine()
    assert health["stage"] == "dev"
    assert health["secrets_configured"] is True
    for service in ("worker", "scheduler"):
        assert health["heartbeats"][service]["machine"] == platform.machine()


def test_frontend_reports_every_service(dev_run):
    status = wait_for(lambda: get_json("http://127.0.0.1:3000/api/status"), 30)
    text = json.dumps(status)
    assert platform.machine() in text
    for service in ("frontend", "api", "worker", "scheduler"):
        assert service in text


def test_dev_again_with_nothing_changed_recreates_no_container(engine, stack_file, dev_run):
    def state():
        # Every container, the completed one-shot init job included: ID and start time.
        label = f"com.docker.compose.project={PROJECT}"
        return {c.name: (c.id, c.state.started_at) for c in engine.container.list(all=True, filters={"label": label})}

    before = state()
    again = run_invoke(["dev", "--stack", str(stack_file)])
    assert state() == before and len(before) == 5
    assert again.stderr.count("the local image already holds these inputs") == 2 and "nothing to start or recreate" in again.stderr

    # One file of one image changes: that image is rebuilt and only the
    # service that runs it is recreated.
    page = stack_file.parent / "docker" / "frontend" / "src" / "frontend" / "__init__.py"
    page.write_text(page.read_text() + "\n# edited by the test\n")
    edited = run_invoke(["dev", "--stack", str(stack_file)])
    after = state()
    recreated = {name for name in before if after.get(name, ("",))[0] != before[name][0]}
    assert recreated == {f"{PROJECT}-frontend-1"}, edited.stderr
    # Compose runs the one-shot init job again when it starts anything; the long-running services stay as they were.
    restarted = {name for name in before if after.get(name) != before[name]}
    assert restarted - {f"{PROJECT}-init-1"} == {f"{PROJECT}-frontend-1"}, edited.stderr
    # The stack is current again: the next run changes nothing.
    before = after
    run_invoke(["dev", "--stack", str(stack_file)])
    assert state() == before


def test_dev_after_rebuild_rebuilds_and_recreates_nothing(engine, stack_file, dev_run):
    """`rebuild` labels its image with the inputs as `dev` does, so the next `dev` finds everything current."""
    def state():
        label = f"com.docker.compose.project={PROJECT}"
        return {c.name: (c.id, c.state.started_at) for c in engine.container.list(all=True, filters={"label": label})}

    run_invoke(["rebuild", "api", "--stack", str(stack_file)])
    before = state()
    again = run_invoke(["dev", "--stack", str(stack_file)])
    assert again.stderr.count("the local image already holds these inputs") == 2, again.stderr
    assert "nothing to start or recreate" in again.stderr, again.stderr
    assert state() == before


def test_frontend_page_in_a_real_browser_shows_each_service_and_arch(dev_run, browser, tmp_path):
    wait_for(both_heartbeats_fresh, 60)
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=8000", "--dump-dom", FRONTEND],
        capture_output=True, text=True, timeout=120,
    ).stdout
    for service in ("frontend", "api", "worker", "scheduler"):
        row = dom.split(f'data-service="{service}"', 1)
        assert len(row) == 2, f"no row for {service} in the rendered page:\n{dom[:3000]}"
        assert platform.machine() in row[1].split("</tr>", 1)[0]


def test_logs_shows_the_last_lines_without_following(stack_file, dev_run):
    result = run_invoke(["logs", "--no-follow", "--services", "api", "--stack", str(stack_file)], timeout=60)
    assert "/healthz" in result.stdout


def test_restart_brings_the_same_mode_back(stack_file, dev_run):
    result = run_invoke(["restart", "--stack", str(stack_file)])
    assert "Restarting in mode dev" in result.stderr
    health = wait_for(lambda: get_json(API), 60)
    assert health["stage"] == "dev"


def test_a_taken_port_is_a_clear_error(stack_file, dev_run):
    run_invoke(["down", "--stack", str(stack_file)])
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 5080))
        holder.listen()
        result = run_invoke(["dev", "--stack", str(stack_file)], check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "5080 is already taken" in result.stderr
    run_invoke(["down", "--stack", str(stack_file)])


def test_prod_build_runs_the_prod_stage(stack_file, dev_run):
    run_invoke(["prod-build", "--stack", str(stack_file)])
    health = wait_for(lambda: get_json(API), 60)
    assert health["stage"] == "prod"
    assert health["build_info"]["stage"] == "prod"


def test_dev_for_arm64_runs_arm64_code(stack_file, dev_run):
    result = run_invoke(["dev", "--platform", "linux/arm64", "--stack", str(stack_file)], timeout=1200)
    assert "--platform asked for linux/arm64" in result.stderr
    health = wait_for(both_heartbeats_fresh, 120)
    assert health and health["machine"] == "aarch64"
    assert health["heartbeats"]["worker"]["machine"] == "aarch64"


def test_down_clean_and_nuke_remove_what_they_say(engine, stack_file, dev_run):
    run_invoke(["down", "--stack", str(stack_file)])
    left = resources(engine)
    assert left["containers"] == [] and left["networks"] == []
    assert left["volumes"], "down must keep the volumes"
    run_invoke(["down", "--stack", str(stack_file)])  # nothing running: still fine

    run_invoke(["clean", "--stack", str(stack_file)])
    assert resources(engine)["volumes"] == []
    assert engine.image.exists(f"{PROJECT}-api:dev")

    run_invoke(["nuke", "--stack", str(stack_file)])
    for tag in ("api:dev", "worker:dev", "scheduler:dev", "frontend:dev", "api:latest", "frontend:latest"):
        assert not engine.image.exists(f"{PROJECT}-{tag}")


def test_dev_without_an_engine_is_one_clear_paragraph(stack_file):
    result = run_invoke(["dev", "--stack", str(stack_file)], env={"DOCKER_HOST": "tcp://127.0.0.1:9"}, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Docker engine does not answer" in result.stderr


def test_nuke_removes_the_image_of_a_service_under_an_inactive_profile(engine, tmp_path):
    stack = copy_stack(tmp_path / "profiles", "polyarch-proftest")
    base = stack.parent / "compose" / "base.yaml"
    add_profiled_service(base, "polyarch-proftest-debugger:latest")
    subprocess.run(["docker", "compose", "-f", str(base), "--profile", "tools", "build", "debugger"], check=True,
                   capture_output=True, timeout=900)
    assert engine.image.exists("polyarch-proftest-debugger:latest")
    run_invoke(["nuke", "--stack", str(stack)])
    assert not engine.image.exists("polyarch-proftest-debugger:latest")
