"""Running a plan (polyarch.execution.runner): live counts on long steps, single steps, the log it returns."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from test_unit_adapters_docker_engine import IMAGE, IndexEngine, TITLE, attested, source_check
from unit_helpers import fresh_console  # noqa: F401  (fixtures)

from polyarch.adapters.docker.engine import ImageIndex
from polyarch.core import console
from polyarch.core.errors import VerificationError
from polyarch.execution import runner as execute
from polyarch.execution.results import RunLog
from polyarch.execution.runner import run_plan, run_step
from polyarch.planning.plans import Plan
from polyarch.planning.steps.compose import Compose, ComposeDown
from polyarch.planning.steps.images import Pull


def test_a_merge_source_may_be_a_bare_manifest_or_a_one_platform_index():
    assert run_step(IndexEngine(attested()), source_check()).index.attested
    assert run_step(IndexEngine(ImageIndex("r", IMAGE, ("linux/amd64",), {}, True, dict(TITLE))), source_check()).index.single


def test_a_one_platform_index_of_another_platform_or_image_is_refused():
    with pytest.raises(VerificationError, match="does not serve linux/amd64; it lists linux/arm64"):
        run_step(IndexEngine(attested(("linux/arm64",))), source_check())
    with pytest.raises(VerificationError, match="is not the image publish-build built .*title is 'frontend'"):
        run_step(IndexEngine(attested(labels={"org.opencontainers.image.title": "frontend"})), source_check())
    with pytest.raises(VerificationError, match="is a manifest list, not a single linux/amd64 manifest"):
        run_step(IndexEngine(ImageIndex("r", "d", ("linux/amd64", "linux/arm64"))), source_check())


@pytest.fixture
def statuses(monkeypatch):
    """Every text a live status line showed (a terminal would show it in place)."""
    shown: list[str] = []

    @contextlib.contextmanager
    def live(label):
        shown.append(label)
        yield shown.append

    monkeypatch.setattr(console, "live", live)
    return shown


DOWN_LINES = [" Container p-a-1  Stopping", " Container p-b-1  Stopping", " Container p-b-1  Stopped", " Container p-b-1  Removing",
              " Container p-a-1  Stopped", " Container p-b-1  Removed", " Container p-a-1  Removed", " Network p_default  Removing",
              " Network p_default  Removed"]


class RecordingEngine:
    """Test double for Engine: `compose down` answers with compose's real progress lines; pulls are recorded."""

    def __init__(self) -> None:
        self.pulled: list[str] = []

    def compose_down(self, compose, call, on_line):
        for line in DOWN_LINES:
            on_line(line)

    def pull(self, call):
        self.pulled.extend(call.operands)

    def platform_available(self, ref, platform):
        return bool(self.pulled)


def test_down_names_each_container_as_compose_stops_and_removes_it_and_counts_them(fresh_console, statuses, capsys):
    execute.run_plan(RecordingEngine(), Plan("down", (ComposeDown(Compose("p", (Path("/p/c.yaml"),))),)))
    err = capsys.readouterr().err
    assert "p-a-1  Stopped" in err and "p-b-1  Removed" in err
    assert statuses[0] == "stopping p"
    assert statuses[-1] == "stopping p: 2 containers: 2 removed; 1 network: 1 removed"
    assert "stopping p: 2 containers: 1 stopping, 1 stopped" in statuses


def test_each_pull_says_which_image_and_which_of_the_plan_s_pulls_it_is(fresh_console, statuses):
    steps = (Pull("busybox:1", "linux/arm64"), Pull("redis:7", "linux/arm64"))
    execute.run_plan(RecordingEngine(), Plan("pull", steps))
    assert statuses == ["pulling busybox:1 for linux/arm64 (1 of 2 pulls)", "pulling redis:7 for linux/arm64 (2 of 2 pulls)"]


def test_run_plan_returns_the_log():
    assert isinstance(run_plan(None, Plan("nothing", ())), RunLog)
