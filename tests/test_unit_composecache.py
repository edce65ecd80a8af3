"""The compose-config cache: a warm read starts no compose, and any input change gives a new reading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from unit_helpers import compose_cli, write_files  # noqa: F401  (fixture)

from polyarch.model.composecache import cached_reader


@pytest.fixture
def project(tmp_path, compose_cli):
    root = write_files(tmp_path / "proj", {
        "compose.yaml": "services:\n  web:\n    image: busybox:${WEB_TAG:-1}\n    environment:\n      GREETING: ${GREETING}\n"
                        "  side:\n    extends:\n      file: more.yaml\n      service: side\n",
        "more.yaml": "services:\n  side:\n    image: busybox:side-1\n",
        ".env": "GREETING=hello\n",
    })
    return root


def counting_reader(root: Path, env_file: Path, calls: list):
    """The real compose reader, counting how often compose is started."""
    from polyarch.model.composecache import compose_config_reader

    real = compose_config_reader(root, env_file)

    def read(files, project):
        calls.append(files)
        return real(files, project)

    return lambda: read


def reading(project: Path, cache: Path, calls: list) -> dict:
    env = project / ".env"
    read = cached_reader(project, env, real=counting_reader(project, env, calls), folder=cache)
    return read((project / "compose.yaml",), "proj")["services"]


def test_a_second_read_of_the_same_inputs_starts_no_compose(project, tmp_path, monkeypatch):
    monkeypatch.delenv("WEB_TAG", raising=False)
    calls: list = []
    first = reading(project, tmp_path / "cache", calls)
    second = reading(project, tmp_path / "cache", calls)
    assert first == second and len(calls) == 1
    stored = list((tmp_path / "cache").glob("*.json"))
    assert len(stored) == 1 and stored[0].stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("change", ["compose file", "extended file", "env file", "environment variable"])
def test_any_changed_input_gives_the_new_reading(project, tmp_path, monkeypatch, change):
    monkeypatch.delenv("WEB_TAG", raising=False)
    calls: list = []
    before = reading(project, tmp_path / "cache", calls)
    assert before["web"]["image"] == "busybox:1" and before["web"]["environment"]["GREETING"] == "hello"
    if change == "compose file":
        text = (project / "compose.yaml").read_text().replace("busybox:${WEB_TAG:-1}", "busybox:${WEB_TAG:-2}")
        (project / "compose.yaml").write_text(text)
    elif change == "extended file":
        (project / "more.yaml").write_text("services:\n  side:\n    image: busybox:side-2\n")
    elif change == "env file":
        (project / ".env").write_text("GREETING=bonjour\n")
    else:
        monkeypatch.setenv("WEB_TAG", "3")
    after = reading(project, tmp_path / "cache", calls)
    assert len(calls) == 2
    expected = {"compose file": ("web", "image", "busybox:2"), "extended file": ("side", "image", "busybox:side-2"),
                "env file": ("web", "environment", {"GREETING": "bonjour"}),
                "environment variable": ("web", "image", "busybox:3")}[change]
    service, key, value = expected
    assert after[service][key] == value


CHILD = """
import subprocess, sys
started = []
real = subprocess.Popen.__init__
def record(self, args, *a, **k):
    started.append(str(args[0] if isinstance(args, (list, tuple)) else args))
    return real(self, args, *a, **k)
subprocess.Popen.__init__ = record
from invoke import Program
from polyarch.cli.tasks import namespace
try:
    Program(namespace=namespace(), name="invoke").run(["invoke", *sys.argv[1:]], exit=True)
except SystemExit as exc:
    assert not exc.code, exc.code
print(sorted({s.rsplit("/", 1)[-1] for s in started}))
print("python_on_whales" in sys.modules)
"""


@pytest.mark.parametrize("args", [
    ("dev", "--dry-run", "--platform", "linux/amd64"),
    ("down", "--dry-run"),
    ("deploy-build", "--dry-run", "--registry", "127.0.0.1:5000/x", "--tag", "t1"),
])
def test_a_warm_dry_run_starts_no_docker_command_and_imports_no_python_on_whales(tmp_path, compose_cli, args):
    import subprocess
    import sys

    from unit_helpers import REPO, copy_repo_stack

    stack = copy_repo_stack(tmp_path / "project")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "POLYARCH_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(REPO), NO_COLOR="1")
    runs = [subprocess.run([sys.executable, "-c", CHILD, *args, "--stack", str(stack)], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=120) for _ in range(2)]
    assert all(run.returncode == 0 for run in runs), runs[-1].stderr
    cold, warm = (run.stdout.splitlines()[-2:] for run in runs)
    assert "docker" in cold[0]  # the first run asked compose
    assert "docker" not in warm[0] and warm[1] == "False", warm
