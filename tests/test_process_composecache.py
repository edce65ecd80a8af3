"""A warm dry run, in a fresh process, starts no docker command and never imports python-on-whales.

Each case runs polyarch twice in child processes (cold, then warm), so it lives with the process tests.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from unit_helpers import REPO, compose_cli, copy_repo_stack  # noqa: F401  (fixture)


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
    stack = copy_repo_stack(tmp_path / "project")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "POLYARCH_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(REPO), NO_COLOR="1")
    runs = [subprocess.run([sys.executable, "-c", CHILD, *args, "--stack", str(stack)], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=120) for _ in range(2)]
    assert all(run.returncode == 0 for run in runs), runs[-1].stderr
    cold, warm = (run.stdout.splitlines()[-2:] for run in runs)
    assert "docker" in cold[0]  # the first run asked compose
    assert "docker" not in warm[0] and warm[1] == "False", warm
