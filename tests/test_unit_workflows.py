"""The CI workflows: actionlint-clean, and every `invoke` command in them is a real task with real flags."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from polyarch.tasks import namespace

WORKFLOWS = sorted((Path(__file__).resolve().parent.parent / ".github" / "workflows").glob("*.yml"))


def actionlint() -> str | None:
    beside_python = Path(sys.executable).parent / "actionlint"
    return str(beside_python) if beside_python.exists() else shutil.which("actionlint")


def invoke_commands(path: Path) -> list[list[str]]:
    """Every `invoke ...` command line in a workflow's run steps, split into words."""
    doc = YAML(typ="safe").load(path.read_text())
    commands = []
    for job in doc["jobs"].values():
        for step in job.get("steps", []):
            for line in str(step.get("run", "")).splitlines():
                for part in re.split(r"&&|;", line):
                    words = shlex.split(part)
                    if words and words[0] == "invoke":
                        commands.append(words)
    return commands


def flags_of(task) -> set[str]:
    flags = set()
    for arg in task.get_arguments():
        for name in arg.names:
            flags.add(("--" if len(name) > 1 else "-") + name.replace("_", "-"))
            if arg.kind is bool and arg.default is True:
                flags.add("--no-" + name.replace("_", "-"))
    return flags


def test_there_are_two_workflows():
    assert [p.name for p in WORKFLOWS] == ["publish-airtight.yml", "publish-images.yml"]


def test_workflows_pass_actionlint():
    binary = actionlint()
    if binary is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("actionlint is not installed (pip install '.[test]' brings it)")
        pytest.skip("actionlint is not installed")
    result = subprocess.run([binary, *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_invoke_command_names_a_real_task_and_real_flags(path):
    ns = namespace()
    commands = invoke_commands(path)
    assert commands, f"{path.name} calls no invoke task"
    for words in commands:
        task_name = words[1]
        assert task_name in ns.task_names, f"{path.name}: no task {task_name}"
        known = flags_of(ns[task_name])
        for word in words[2:]:
            if word.startswith("-"):
                assert word.split("=", 1)[0] in known, f"{path.name}: invoke {task_name} has no flag {word}"


def test_the_flag_check_catches_a_wrong_flag(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("jobs:\n  a:\n    steps:\n      - run: invoke publish-build --platfrom linux/amd64\n")
    (words,) = invoke_commands(bad)
    assert "--platfrom" not in flags_of(namespace()["publish-build"])
    assert words[2] == "--platfrom"
