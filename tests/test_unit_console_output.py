"""What people see while a plan runs: tables that wrap instead of cutting, and live counts on long steps."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from unit_helpers import fresh_console  # noqa: F401  (fixture)

from polyarch.core import console

from polyarch.execution import runner as execute
from polyarch.execution.handlers.build import bake_lines
from polyarch.planning.steps.build import BakeTarget, Build
from polyarch.planning.steps.compose import Compose, ComposeDown
from polyarch.planning.plans import Plan
from polyarch.planning.steps.images import Pull

LONG_REF = "127.0.0.1:5000/a-rather-long-team-namespace/and-an-even-longer-repository-name:0123456789abcdef"


def test_a_table_wraps_a_long_reference_in_a_narrow_terminal(fresh_console, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "50")
    console.err.cache_clear()
    console.table("Published", ("image", "tag", "platforms"), [("server", LONG_REF, "linux/amd64, linux/arm64")])
    lines = capsys.readouterr().err.splitlines()
    assert max(len(line) for line in lines) <= 50
    cells = [line.split("│")[2].strip() for line in lines if line.count("│") == 4]
    assert "".join(cells) == LONG_REF


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


def test_a_pushing_build_says_which_image_it_pushes_n_of_m(fresh_console, statuses, capsys):
    targets = tuple(BakeTarget(name, Path("/c"), Path("/c/Dockerfile"), "prod", ("linux/amd64",), (f"r/{name}:1",))
                    for name in ("server", "frontend"))
    with bake_lines(Build(targets, push=True)) as on_line:
        for line in ("#20 exporting to image", "#20 pushing manifest for r/frontend:1@sha256:" + "a" * 64,
                     "#20 pushing manifest for r/frontend:1@sha256:" + "a" * 64 + " 0.1s done",
                     "#21 pushing manifest for r/server:1@sha256:" + "b" * 64):
            on_line(line)
    assert statuses == ["building 2 images", "pushing frontend (1 of 2 images)", "pushing server (2 of 2 images)"]
    assert "#20 exporting to image" in capsys.readouterr().err
