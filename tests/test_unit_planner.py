"""Planning the developer loop for the repo's stack, and the plan steps' own output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyarch.planner import (airtight_package_plan, build_plan, compose_for, deploy_plan, down_plan, host_build,
                               publish_build_plan, up_plan)
from polyarch.plans import BakeTarget, Build, Compose, ComposeDown, ComposeUp, Pull, RemoveImages
from polyarch.stack import load_stack
from unit_helpers import REPO, REPO_STACK

MODES = ["dev", "prod", "airtight"]
PLATFORMS = ["linux/amd64", "linux/arm64"]

# What the repo's stack.toml says, written out by hand.
SERVICES = {"server": ("api", "worker", "scheduler"), "frontend": ("frontend",)}
MODE_TAG = {"dev": "dev", "prod": "latest", "airtight": "latest"}
MODE_STAGE = {"dev": "dev", "prod": "prod", "airtight": "prod"}
MODE_FILES = {
    "dev": ("compose/base.yaml", "compose/dev.yaml"),
    "prod": ("compose/base.yaml",),
    "airtight": ("compose/base.yaml", "compose/airtight.yaml"),
}


@pytest.fixture(scope="module")
def stack():
    return load_stack(REPO_STACK)


def _steps(plan, kind):
    return [s for s in plan.steps if isinstance(s, kind)]


# --- build step --------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("mode_name", MODES)
def test_host_build_has_one_target_per_image(stack, mode_name, platform):
    build = host_build(stack, stack.mode(mode_name), platform)
    assert [t.name for t in build.targets] == ["server", "frontend"]
    assert build.load is True and build.push is False and build.no_cache is False
    tag = MODE_TAG[mode_name]
    for target in build.targets:
        assert target.platforms == (platform,)
        assert target.stage == MODE_STAGE[mode_name]
        assert target.tags == tuple(f"polyarch-{s}:{tag}" for s in SERVICES[target.name])
        assert target.context == REPO / "docker" / target.name
        assert target.dockerfile == REPO / "docker" / target.name / "Dockerfile"
    by_name = {t.name: t for t in build.targets}
    assert by_name["frontend"].args == (("PUBLIC_APP_TITLE", "polyarch sample stack"),)
    assert by_name["server"].args == ()


def test_host_build_tags_cover_every_local_service_tag(stack):
    build = host_build(stack, stack.mode("dev"), "linux/arm64")
    tags = [t for target in build.targets for t in target.tags]
    assert sorted(tags) == sorted(
        ["polyarch-api:dev", "polyarch-worker:dev", "polyarch-scheduler:dev", "polyarch-frontend:dev"]
    )


@pytest.mark.parametrize("no_cache", [False, True])
def test_build_plan(stack, no_cache):
    plan = build_plan(stack, stack.mode("prod"), "linux/amd64", no_cache=no_cache)
    assert len(plan.steps) == 1
    (build,) = plan.steps
    assert isinstance(build, Build)
    assert build.no_cache is no_cache
    assert all(t.stage == "prod" and t.platforms == ("linux/amd64",) for t in build.targets)
    assert "prod" in plan.title and "linux/amd64" in plan.title


# --- up ------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("mode_name", MODES)
def test_up_plan_builds_then_starts(stack, mode_name, platform):
    plan = up_plan(stack, stack.mode(mode_name), platform, env_present=True)
    assert [type(s) for s in plan.steps] == [Build, Pull, ComposeUp]
    pull = plan.steps[1]
    assert (pull.ref, pull.platform, pull.only_if_missing) == ("busybox:1.36.1", platform, True)
    up = plan.steps[2]
    assert up.pull == "missing"
    compose = up.compose
    assert compose.project == "polyarch"
    assert compose.files == tuple(REPO / f for f in MODE_FILES[mode_name])
    variables = dict(compose.variables)
    assert len(variables) == len(compose.variables)  # no variable set twice
    assert variables["POLYARCH_TAG"] == MODE_TAG[mode_name]
    assert variables["DOCKER_DEFAULT_PLATFORM"] == platform
    assert compose.env_files == (REPO / ".env",)
    assert mode_name in plan.title and platform in plan.title
    assert f"POLYARCH_TAG={MODE_TAG[mode_name]}" in up.summary()
    assert f"DOCKER_DEFAULT_PLATFORM={platform}" in up.summary()


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


def test_compose_for_mode_without_platform_sets_only_the_tag(stack):
    variables = dict(compose_for(stack, stack.mode("dev"), None, env_present=False).variables)
    assert variables["POLYARCH_TAG"] == "dev"
    assert "DOCKER_DEFAULT_PLATFORM" not in variables


# --- down, clean, nuke --------------------------------------------------------------


ALL_FILES = (REPO / "compose/base.yaml", REPO / "compose/dev.yaml", REPO / "compose/airtight.yaml")


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
    # not tied to one mode: no tag and no platform
    assert "POLYARCH_TAG" not in dict(compose.variables)
    assert "DOCKER_DEFAULT_PLATFORM" not in dict(compose.variables)
    assert compose.project == "polyarch"
    assert compose.env_files == (REPO / ".env",)


def test_nuke_plan_removes_every_local_tag_of_every_mode(stack):
    plan = down_plan(stack, env_present=False, volumes=True, images=True)
    (remove,) = _steps(plan, RemoveImages)
    expected = {f"polyarch-{service}:{tag}" for services in SERVICES.values() for service in services
                for tag in MODE_TAG.values()}
    assert set(remove.refs) == expected
    assert len(remove.refs) == len(expected) == 8  # prod and airtight share 'latest'
    assert remove.prune_dangling is True
    assert "prune dangling" in remove.summary()


# --- Build.definition / command --------------------------------------------------


def test_build_definition_is_bake_json(stack):
    build = host_build(stack, stack.mode("dev"), "linux/arm64")
    data = json.loads(build.definition_json())
    assert data["group"] == {"default": {"targets": ["server", "frontend"]}}
    assert set(data["target"]) == {"server", "frontend"}
    server = data["target"]["server"]
    assert server == {
        "context": str(REPO / "docker/server"),
        "dockerfile": str(REPO / "docker/server/Dockerfile"),
        "target": "dev",
        "platforms": ["linux/arm64"],
        "tags": ["polyarch-api:dev", "polyarch-worker:dev", "polyarch-scheduler:dev"],
        "contexts": {"common": str(REPO / "docker/common")},
    }
    assert data["target"]["frontend"]["args"] == {"PUBLIC_APP_TITLE": "polyarch sample stack"}
    for name in data["group"]["default"]["targets"]:
        assert name in data["target"]


COMMON = {"common": str(REPO / "docker/common")}


def _bake_plans(stack):
    """Every plan that builds the repo's images, by name: dev, prod and airtight builds, deploy and publish."""
    return {
        "dev": up_plan(stack, stack.mode("dev"), "linux/arm64", env_present=True),
        "prod-build": up_plan(stack, stack.mode("prod"), "linux/amd64", env_present=True),
        "build": build_plan(stack, stack.mode("prod"), "linux/amd64"),
        "deploy": deploy_plan(stack, ("linux/amd64", "linux/arm64"), "127.0.0.1:5000/x", "abc1234",
                              fingerprints={"server": "f1", "frontend": "f2"}),
        "package-airtight": airtight_package_plan(stack, "linux/arm64", "1.0", Path("/tmp/dist"), 6),
        "publish-build": publish_build_plan(stack, "linux/arm64", "127.0.0.1:5000/x", Path("/tmp/d"), push_by_digest=True),
        "publish-build-staging": publish_build_plan(stack, "linux/amd64", "127.0.0.1:5000/x", Path("/tmp/d"), push_by_digest=False),
    }


@pytest.mark.parametrize("plan_name", ["dev", "prod-build", "build", "deploy", "package-airtight", "publish-build",
                                       "publish-build-staging"])
def test_every_bake_target_carries_the_named_contexts(stack, plan_name):
    (build,) = _steps(_bake_plans(stack)[plan_name], Build)
    assert [t.name for t in build.targets] == ["server", "frontend"]
    for target in build.targets:
        assert target.contexts == (("common", REPO / "docker/common"),)
    data = json.loads(build.definition_json())
    for name in ("server", "frontend"):
        assert data["target"][name]["contexts"] == COMMON


def test_named_contexts_sit_next_to_the_other_deploy_settings(stack):
    """Adding contexts leaves the rest of a deploy target as it was."""
    (build,) = _steps(_bake_plans(stack)["deploy"], Build)
    server = json.loads(build.definition_json())["target"]["server"]
    assert server["target"] == "prod"
    assert server["platforms"] == ["linux/amd64", "linux/arm64"]
    assert server["tags"] == ["127.0.0.1:5000/x/server:abc1234"]
    assert server["annotations"] == ["index:dev.polyarch.inputs=f1"]


def _target(name="app", **extra):
    return BakeTarget(name=name, context=Path("/ctx"), dockerfile=Path("/ctx/Dockerfile"), stage="prod",
                      platforms=("linux/amd64", "linux/arm64"), tags=(f"r/{name}:1",), **extra)


def test_bake_target_optional_fields_appear_only_when_set():
    bare = _target().definition()
    assert set(bare) == {"context", "dockerfile", "target", "platforms", "tags"}
    full = _target(args=(("A", "1"),), cache_from=("type=local,src=/c",), cache_to=("type=local,dest=/c",),
                   outputs=("type=registry",), contexts=(("common", Path("/shared")), ("lib", Path("/lib")))).definition()
    assert full["args"] == {"A": "1"}
    assert full["contexts"] == {"common": "/shared", "lib": "/lib"}
    assert full["cache-from"] == ["type=local,src=/c"]
    assert full["cache-to"] == ["type=local,dest=/c"]
    assert full["output"] == ["type=registry"]
    json.dumps(full)  # serialisable


@pytest.mark.parametrize(
    ("load", "push", "no_cache", "builder", "expected"),
    [
        (True, False, False, None, ["docker", "buildx", "bake", "--file", "b.json", "--load", "a", "b"]),
        (False, True, False, None, ["docker", "buildx", "bake", "--file", "b.json", "--push", "a", "b"]),
        (False, False, False, None, ["docker", "buildx", "bake", "--file", "b.json", "a", "b"]),
        (True, False, True, None, ["docker", "buildx", "bake", "--file", "b.json", "--load", "--no-cache", "a", "b"]),
        (False, True, False, "multi", ["docker", "buildx", "bake", "--file", "b.json", "--builder", "multi", "--push", "a", "b"]),
    ],
)
def test_build_command(load, push, no_cache, builder, expected):
    build = Build(targets=(_target("a"), _target("b")), load=load, push=push, no_cache=no_cache, builder=builder)
    assert build.command("b.json") == expected


@pytest.mark.parametrize(
    ("load", "push", "ending"),
    [(True, False, "load into the engine"), (False, True, "push to the registry"), (False, False, "build only")],
)
def test_build_summary(load, push, ending):
    build = Build(targets=(_target("a"), _target("b")), load=load, push=push)
    summary = build.summary()
    assert summary.startswith("build a, b for linux/amd64, linux/arm64")
    assert summary.endswith(ending)


def test_repo_host_build_command_loads_and_never_pushes(stack):
    command = host_build(stack, stack.mode("dev"), "linux/amd64").command()
    assert "--load" in command and "--push" not in command
    assert command[-2:] == ["server", "frontend"]


def test_compose_describe():
    compose = Compose("proj", (Path("/a.yaml"), Path("/b.yaml")))
    assert compose.describe() == "-p proj -f /a.yaml -f /b.yaml"
