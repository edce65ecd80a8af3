"""Judging a started stack ready (polyarch.execution.readiness)."""

from __future__ import annotations

import pytest

from polyarch.execution.readiness import judge_ready, stopped_at_container
from polyarch.planning.uptodate import ContainerState


def state(service: str, state: str, health: str = "", code: int = 0) -> ContainerState:
    return ContainerState(service, "", "", "", state, health, code)


@pytest.mark.parametrize("containers, waiting, failed", [
    ([state("web", "running", "healthy"), state("once", "exited")], (), ()),
    ([state("web", "running", "starting"), state("once", "exited")], ("web",), ()),
    ([state("web", "running"), state("once", "exited", code=3)], (), (("once", "exited with code 3"),)),
    ([state("web", "running", "unhealthy")], (), (("web", "is unhealthy"),)),
    ([state("web", "restarting", code=1)], ("web",), ()),
], ids=["job-done", "still-starting", "job-failed", "unhealthy", "restarting"])
def test_ready_means_services_up_and_jobs_exited_zero(containers, waiting, failed):
    verdict = judge_ready(containers)
    assert (verdict.waiting, verdict.failed) == (waiting, failed)


def test_only_an_exited_container_makes_polyarch_judge_the_project_itself():
    assert stopped_at_container("Could not start the x stack (docker exited with 1).\ncontainer x-once-1 exited (0)")
    assert stopped_at_container("container x-web-1 is unhealthy")
    assert not stopped_at_container("Bind for 0.0.0.0:80 failed: port is already allocated")
