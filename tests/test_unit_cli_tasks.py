"""The task collection (polyarch.cli.tasks): every task listed, every flag with a help text."""

from __future__ import annotations

import re

from unit_helpers import fresh_console, run_invoke  # noqa: F401  (fixtures)


DEVLOOP_TASKS = ("init", "dev", "build", "rebuild", "down", "logs", "restart", "clean", "nuke", "prod-build", "doctor")


def test_list_shows_every_task(capsys, fresh_console):
    from polyarch.cli.tasks import namespace

    code = run_invoke("--list")
    out = capsys.readouterr().out
    assert code == 0
    listed = set(re.findall(r"^  (\S+)", out, flags=re.MULTILINE))
    assert set(DEVLOOP_TASKS) <= listed
    assert set(namespace().task_names) == listed


def test_every_flag_of_every_task_has_a_help_text():
    # In a fresh process: invoke's Task.get_arguments() consumes the help
    # texts, and other tests in this process have already parsed these tasks.
    import subprocess
    import sys

    script = (
        "from polyarch.cli.tasks import namespace\n"
        "ns = namespace()\n"
        "for name in sorted(ns.task_names):\n"
        "    for arg in ns[name].get_arguments():\n"
        "        print(name, arg.name, bool(arg.help))\n"
    )
    lines = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(lines) > 40
    assert [line for line in lines if line.endswith("False")] == []
    flags = {tuple(line.split()[:2]) for line in lines}
    for task in ("dev", "build", "rebuild", "prod-build"):
        assert (task, "mode") in flags
    for task in ("dev", "build", "rebuild", "prod-build", "down", "clean", "nuke", "deploy-build", "prod",
                 "package-airtight", "prod-airtight"):
        assert (task, "json") in flags
    assert ("dev", "fresh") in flags and ("prod-build", "fresh") in flags
    assert ("logs", "services") in flags and ("logs", "service") not in flags
