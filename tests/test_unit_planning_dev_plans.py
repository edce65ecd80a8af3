"""Planning the developer loop (polyarch.planning.dev_plans) for the repo's stack.

The stack is the repo's sample project, read the way polyarch reads it:
polyarch.toml plus `docker compose config` of each mode's compose files (the
docker CLI's compose plugin only, no engine).
"""

from __future__ import annotations

import json

import pytest
from unit_helpers import REPO, REPO_SETTINGS, load_repo_stack

from polyarch.core.errors import StackError
from polyarch.planning.dev_plans import build_plan, compose_for, down_plan, rebuild_plan, up_plan
from polyarch.planning.steps.build import Build
from polyarch.planning.steps.compose import ComposeDown, ComposeRemove, ComposeUp
from polyarch.planning.steps.images import Pull, RemoveImages


MODES = ["dev", "prod", "airtight"]
PLATFORMS = ["linux/amd64", "linux/arm64"]


# What the repo's compose files say, written out by hand. Compose lists a
# build's services in name order.
SERVICES = {"server": ("api", "scheduler", "worker"), "frontend": ("frontend",)}
MODE_TAG = {"dev": "dev", "prod": "latest", "airtight": "latest"}
MODE_TARGET = {"dev": "dev", "prod": "prod", "airtight": "prod"}
MODE_FILES = {
    "dev": ("compose/base.yaml", "compose/dev.yaml"),
    "prod": ("compose/base.yaml",),
    "airtight": ("compose/base.yaml", "compose/airtight.yaml"),
}
ALL_FILES = (REPO / "compose/base.yaml", REPO / "compose/dev.yaml", REPO / "compose/airtight.yaml")


@pytest.fixture(scope="module")
def stack():
    return load_repo_stack()


def _steps(plan, kind):
    return [s for s in plan.steps if isinstance(s, kind)]


def local_names(mode_name: str, image: str) -> tuple[str, ...]:
    return tuple(f"polyarch-{s}:{MODE_TAG[mode_name]}" for s in SERVICES[image])


def test_repo_stack_as_its_compose_files_describe_it(stack):
    assert stack.name == "polyarch"
    assert (stack.root, stack.source) == (REPO, REPO_SETTINGS)
    assert stack.roles == {"dev": "dev", "prod": "prod", "airtight": "airtight"}
    assert list(stack.modes) == MODES
    for mode_name in MODES:
        mode = stack.mode(mode_name)
        assert stack.role(mode_name) is mode
        assert mode.files == tuple(REPO / f for f in MODE_FILES[mode_name])
        assert mode.third_party == ("busybox:1.36.1",)
        assert set(mode.services) == {"init", "api", "worker", "scheduler", "frontend"}
        assert [(i.name, i.services, i.local_names, i.target) for i in mode.images] == [
            (name, SERVICES[name], local_names(mode_name, name), MODE_TARGET[mode_name]) for name in ("server", "frontend")]
    assert stack.all_files() == ALL_FILES
    assert stack.env_file == REPO / ".env"
    assert stack.values_file is None


@pytest.mark.parametrize("no_cache", [False, True])
def test_build_plan(stack, no_cache):
    plan = build_plan(stack, stack.mode("prod"), "linux/amd64", no_cache=no_cache)
    assert len(plan.steps) == 1
    (build,) = plan.steps
    assert isinstance(build, Build)
    assert build.no_cache is no_cache
    assert [t.name for t in build.targets] == ["server", "frontend"]
    assert all(t.stage == "prod" and t.platforms == ("linux/amd64",) for t in build.targets)
    assert "prod" in plan.title and "linux/amd64" in plan.title


@pytest.mark.parametrize(("services", "images"), [
    (("frontend",), ["frontend"]),
    (("worker",), ["server"]),
    (("api", "scheduler"), ["server"]),
    (("frontend", "api"), ["server", "frontend"]),
])
def test_build_plan_for_some_services_builds_only_their_images(stack, services, images):
    (build,) = build_plan(stack, stack.mode("dev"), "linux/arm64", services=services).steps
    assert [t.name for t in build.targets] == images
    assert build.command()[-len(images):] == images


def test_build_plan_refuses_an_unknown_service(stack):
    with pytest.raises(StackError) as caught:
        build_plan(stack, stack.mode("dev"), "linux/arm64", services=("apii",))
    assert "'apii'" in caught.value.message and "did you mean 'api'" in caught.value.message
    assert caught.value.tip == "Services: api, frontend, init, scheduler, worker."


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("mode_name", MODES)
def test_up_plan_builds_then_starts(stack, mode_name, platform):
    plan = up_plan(stack, stack.mode(mode_name), platform, env_present=True)
    assert [type(s) for s in plan.steps] == [Build, Pull, ComposeUp]
    build = plan.steps[0]
    assert [t.stage for t in build.targets] == [MODE_TARGET[mode_name]] * 2
    pull = plan.steps[1]
    assert (pull.ref, pull.platform, pull.only_if_missing) == ("busybox:1.36.1", platform, True)
    up = plan.steps[2]
    assert (up.pull, up.services) == ("missing", ())
    compose = up.compose
    assert compose.project == "polyarch"
    assert compose.files == tuple(REPO / f for f in MODE_FILES[mode_name])
    # The compose files name their images themselves: the only variable is the platform.
    assert compose.variables == (("DOCKER_DEFAULT_PLATFORM", platform),)
    assert compose.env_files == (REPO / ".env",)
    assert mode_name in plan.title and platform in plan.title
    summary = up.summary()
    assert "up --detach --wait --no-build --pull missing" in summary
    assert summary.endswith(f"(with DOCKER_DEFAULT_PLATFORM={platform})")
    assert "POLYARCH_" not in summary


def test_up_plan_without_build_only_starts(stack):
    plan = up_plan(stack, stack.mode("prod"), "linux/amd64", env_present=True, build=False)
    assert [type(s) for s in plan.steps] == [Pull, ComposeUp]


def test_up_plan_without_env_file_passes_none(stack):
    plan = up_plan(stack, stack.mode("dev"), "linux/amd64", env_present=False)
    assert plan.steps[-1].compose.env_files == ()


def test_up_plan_no_cache_reaches_the_build(stack):
    plan = up_plan(stack, stack.mode("dev"), "linux/amd64", env_present=True, no_cache=True)
    assert plan.steps[0].no_cache is True
    assert "--no-cache" in plan.steps[0].command()


@pytest.mark.parametrize("mode_name", ["dev", "prod"])
def test_fresh_up_plan_removes_everything_first_and_builds_without_cache(stack, mode_name):
    plan = up_plan(stack, stack.mode(mode_name), "linux/arm64", env_present=True, fresh=True)
    assert [type(s) for s in plan.steps] == [ComposeDown, RemoveImages, Build, Pull, ComposeUp]
    down, remove, build = plan.steps[:3]
    assert down.volumes is True and down.compose.files == ALL_FILES
    assert remove.refs == stack.all_local_names()
    assert build.no_cache is True and "--no-cache" in build.command()
    assert plan.steps[-1].compose.files == tuple(REPO / f for f in MODE_FILES[mode_name])


def test_compose_for_mode_without_platform_sets_no_variable(stack):
    compose = compose_for(stack, stack.mode("dev"), None, env_present=False)
    assert compose.variables == ()
    assert compose.files == tuple(REPO / f for f in MODE_FILES["dev"])
    assert compose.env_files == ()


def test_rebuild_plan_removes_rebuilds_and_starts_just_those_services(stack):
    plan = rebuild_plan(stack, stack.mode("dev"), "linux/arm64", env_present=True, services=("api",))
    assert [type(s) for s in plan.steps] == [ComposeRemove, Build, ComposeUp]
    remove, build, up = plan.steps
    assert remove.services == ("api",) and up.services == ("api",)
    assert remove.compose == up.compose
    assert up.compose.files == tuple(REPO / f for f in MODE_FILES["dev"])
    assert up.compose.variables == (("DOCKER_DEFAULT_PLATFORM", "linux/arm64"),)
    assert [(t.name, t.stage, t.tags) for t in build.targets] == [("server", "dev", local_names("dev", "server"))]
    assert build.load is True
    assert "rm --force --stop api" in remove.summary()
    assert "--no-build --pull missing api (with" in up.summary()
    assert "api" in plan.title and "dev" in plan.title


def test_rebuild_plan_labels_its_images_like_dev_but_always_builds(stack):
    plan = rebuild_plan(stack, stack.mode("dev"), "linux/arm64", env_present=True, services=("api",),
                        fingerprints={"server": "f" * 64})
    build = plan.steps[1]
    assert build.skip_unchanged is False
    (target,) = build.targets
    assert target.fingerprint == "f" * 64 and ("dev.polyarch.inputs", "f" * 64) in target.labels
    assert build.definition()["target"]["server"]["labels"] == {"dev.polyarch.inputs": "f" * 64}


def test_rebuild_plan_of_a_third_party_service_builds_nothing(stack):
    plan = rebuild_plan(stack, stack.mode("prod"), "linux/amd64", env_present=False, services=("init",))
    assert [type(s) for s in plan.steps] == [ComposeRemove, ComposeUp]
    assert plan.steps[1].services == ("init",)


def test_rebuild_plan_refuses_an_unknown_service(stack):
    with pytest.raises(StackError, match="no service 'web'"):
        rebuild_plan(stack, stack.mode("dev"), "linux/arm64", env_present=True, services=("web",))


@pytest.mark.parametrize(
    ("volumes", "images", "kinds"),
    [
        (False, False, [ComposeDown]),
        (True, False, [ComposeDown]),
        (True, True, [ComposeDown, RemoveImages]),
    ],
)
def test_down_plan_steps(stack, volumes, images, kinds):
    plan = down_plan(stack, env_present=False, volumes=volumes, images=images)
    assert [type(s) for s in plan.steps] == kinds
    down = plan.steps[0]
    assert down.volumes is volumes
    assert ("--volumes" in down.summary()) is volumes
    assert ("volumes" in plan.title) is volumes
    assert ("images" in plan.title) is images


def test_down_plan_uses_every_modes_files_once(stack):
    compose = down_plan(stack, env_present=True).steps[0].compose
    assert compose.files == ALL_FILES
    assert len(set(compose.files)) == len(compose.files)
    # not tied to one mode: no platform, no variable at all
    assert compose.variables == ()
    assert compose.project == "polyarch"
    assert compose.env_files == (REPO / ".env",)


def test_nuke_plan_removes_exactly_the_stacks_own_images(stack):
    plan = down_plan(stack, env_present=False, volumes=True, images=True)
    (remove,) = _steps(plan, RemoveImages)
    expected = {f"polyarch-{service}:{tag}" for services in SERVICES.values() for service in services
                for tag in MODE_TAG.values()}
    assert remove.refs == stack.all_local_names()
    assert set(remove.refs) == expected
    assert len(remove.refs) == len(expected) == 8  # prod and airtight share 'latest'
    # Dangling images may belong to other projects: nuke leaves them alone.
    assert remove.prune_dangling is False
    assert remove.summary() == "remove images " + ", ".join(remove.refs)


def test_plan_to_data_is_plain_json_of_every_step(stack):
    plan = up_plan(stack, stack.mode("dev"), "linux/arm64", env_present=True)
    data = plan.to_data()
    assert json.loads(json.dumps(data)) == data  # only JSON types inside
    assert data["title"] == plan.title and data["notes"] == []
    assert [s["kind"] for s in data["steps"]] == ["Build", "Pull", "ComposeUp"]
    assert [s["summary"] for s in data["steps"]] == [s.summary() for s in plan.steps]
    build, pull, up = data["steps"]
    assert build["bake_definition"] == plan.steps[0].definition()
    assert build["load"] is True and build["push"] is False
    assert build["targets"][0]["contexts"] == [["common", str(REPO / "docker/common")]]
    assert pull == {"kind": "Pull", "summary": plan.steps[1].summary(), "ref": "busybox:1.36.1",
                    "platform": "linux/arm64", "only_if_missing": True}
    assert up["compose"] == {
        "project": "polyarch",
        "files": [str(REPO / f) for f in MODE_FILES["dev"]],
        "env_files": [str(REPO / ".env")],
        "variables": [["DOCKER_DEFAULT_PLATFORM", "linux/arm64"]],
    }
    assert (up["pull"], up["services"]) == ("missing", [])
