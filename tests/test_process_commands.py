"""The installed commands as separate processes: `polyarch --version`/`--list`, bad command lines, and a project's own tasks.py under `invoke`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_unit_cli_program import POLYARCH, compose_cli, lumen_copy  # noqa: F401  (fixtures)


def test_polyarch_version_and_list():
    result = subprocess.run([POLYARCH, "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("polyarch ")
    listing = subprocess.run([POLYARCH, "--list"], capture_output=True, text=True).stdout
    for name in ("dev", "deploy-build", "rebuild", "package-airtight", "prod-airtight", "logs"):
        assert f"  {name} " in listing


def _closed_stdout_run(argv: list[str], cwd: Path | None = None) -> tuple[int, str]:
    """Run ARGV with its stdout's reading end closed before it writes, as `| head -0` would."""
    env = dict(os.environ, NO_COLOR="1")
    env.pop("POLYARCH_STACK", None)
    with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as writer:
        writer.stdout.close()
        stderr = writer.stderr.read().decode()
        return writer.wait(), stderr


def test_a_reader_that_stops_early_gets_no_traceback():
    code, stderr = _closed_stdout_run([POLYARCH, "--help", "deploy-build"])
    assert code == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_a_task_whose_reader_stops_early_ends_quietly_under_invoke_too(compose_cli, lumen_copy):
    (lumen_copy / "tasks.py").write_text("from polyarch.cli.tasks import namespace\n\nns = namespace()\n")
    invoke = str(Path(sys.executable).parent / "invoke")
    # --json: the plan goes to stdout (messages go to stderr).
    code, stderr = _closed_stdout_run([invoke, "deploy-build", "--dry-run", "--registry", "127.0.0.1:5000/example",
                                       "--allow-dirty", "--platforms", "linux/arm64", "--json"], cwd=lumen_copy)
    assert code == 141, stderr
    assert "Traceback" not in stderr and "ERROR" not in stderr


def test_a_projects_own_tasks_py_adds_tasks_next_to_polyarchs(compose_cli, lumen_copy):
    (lumen_copy / "tasks.py").write_text(textwrap.dedent('''\
        from invoke import task

        from polyarch.cli.tasks import namespace

        ns = namespace()


        @task(help={"platforms": "Passed on to deploy-build."})
        def deploy(c, platforms=None):
            """Publish the images, then roll them out with Helm."""
            from polyarch.cli.tasks.release import deploy_build

            deploy_build(c, platforms=platforms, registry="127.0.0.1:5000/example", allow_dirty=True, dry_run=True)
            print("helm would run now")


        ns.add_task(deploy)
    '''))
    env = dict(os.environ, NO_COLOR="1")
    env.pop("POLYARCH_STACK", None)
    invoke = str(Path(sys.executable).parent / "invoke")
    listing = subprocess.run([invoke, "--list"], cwd=lumen_copy, env=env, capture_output=True, text=True).stdout
    assert "deploy " in listing and "deploy-build" in listing
    result = subprocess.run([invoke, "deploy", "--platforms", "linux/arm64"], cwd=lumen_copy, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "helm would run now" in result.stdout
    assert "127.0.0.1:5000/example/lumen-server" in result.stderr and "linux/arm64" in result.stderr


@pytest.mark.parametrize("argv", [["dev", "--bogus"], ["nosuchtask"], ["--nope"]])
def test_a_mistyped_command_line_is_bad_input(argv):
    result = subprocess.run([POLYARCH, *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "No idea what" in result.stderr and "polyarch --help TASK" in result.stderr
