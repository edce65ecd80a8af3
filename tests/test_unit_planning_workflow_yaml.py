"""Runner choice in generated workflows (polyarch.planning.workflow_yaml)."""

from __future__ import annotations

import pytest

from polyarch.model.settings import WorkflowSettings
from polyarch.planning.workflow_yaml import runner_for


@pytest.mark.parametrize(("platform", "runner", "emulated"), [
    ("linux/amd64", "ubuntu-24.04", False),
    ("linux/arm64", "ubuntu-24.04-arm", False),
    ("linux/arm/v7", "ubuntu-24.04", True),
    ("linux/ppc64le", "ubuntu-24.04", True),
])
def test_each_platform_gets_its_native_runner_or_emulation(platform, runner, emulated):
    choice = runner_for(platform, WorkflowSettings())
    assert (choice.runner, choice.emulated) == (runner, emulated)


def test_a_configured_runner_label_wins_and_is_native():
    options = WorkflowSettings(runners={"arm64": "self-hosted-graviton"}, emulation_runner="big-x86")
    assert runner_for("linux/arm64", options).runner == "self-hosted-graviton"
    assert not runner_for("linux/arm64", options).emulated
    assert runner_for("linux/riscv64", options).runner == "big-x86"
