"""When `dev` may leave a running stack alone: judged from compose's config hashes and container labels."""

from __future__ import annotations

from dataclasses import replace

from polyarch.planning.uptodate import ContainerState, judge

HASHES = {"api": "h-api", "worker": "h-worker", "init": "h-init"}
IDS = {"acme-api:dev": "sha256:a", "busybox:1.36.1": "sha256:b"}


def containers():
    return [
        ContainerState("api", "h-api", "acme-api:dev", "sha256:a", "running", "healthy", 0,
                       ("init:service_completed_successfully:false",)),
        ContainerState("worker", "h-worker", "acme-api:dev", "sha256:a", "running", "", 0, ("api:service_healthy:false",)),
        ContainerState("init", "h-init", "busybox:1.36.1", "sha256:b", "exited", "", 0),
    ]


def with_change(index, **fields):
    found = containers()
    found[index] = replace(found[index], **fields)
    return found


def test_a_running_stack_with_a_completed_job_is_current():
    verdict = judge(HASHES, containers(), IDS)
    assert verdict.current and verdict.services() == ()


def test_a_new_image_makes_only_its_services_stale():
    verdict = judge(HASHES, containers(), dict(IDS, **{"acme-api:dev": "sha256:new"}))
    assert verdict.services() == ("api", "worker") and "image acme-api:dev changed" in verdict.describe()


def test_changed_config_missing_containers_and_unhealthy_ones_are_stale():
    assert judge(dict(HASHES, worker="h-other"), containers(), IDS).stale == (("worker", "worker's configuration changed"),)
    assert judge(HASHES, containers()[:2], IDS).services() == ("init",)
    assert judge(HASHES, with_change(0, health="unhealthy"), IDS).services() == ("api",)


def test_an_exited_service_is_stale_unless_others_wait_for_it_to_complete():
    assert judge(HASHES, with_change(1, state="exited"), IDS).services() == ("worker",)
    assert judge(HASHES, with_change(2, exit_code=1), IDS).services() == ("init",)
    no_waiter = [replace(c, depends_on=()) for c in containers()]
    assert judge(HASHES, no_waiter, IDS).services() == ("init",)


def test_containers_of_services_the_mode_does_not_run_need_the_whole_project():
    extra = containers() + [ContainerState("debug", "h", "busybox:1.36.1", "sha256:b", "running", "", 0)]
    verdict = judge(HASHES, extra, IDS)
    assert not verdict.current and verdict.whole and "debug" in verdict.whole


def test_a_service_with_fewer_or_more_containers_than_its_replicas_is_stale():
    assert judge(HASHES, containers(), IDS, {"worker": 2}).stale == (("worker", "worker should run 2 containers, not 1"),)
    assert judge(HASHES, containers(), IDS, {"api": 1, "worker": 1, "init": 1}).current
