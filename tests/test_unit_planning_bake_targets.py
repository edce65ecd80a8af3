"""The bake definition built on the host (polyarch.planning.bake_targets) for the repo's sample stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_unit_planning_dev_plans import _steps, local_names, stack  # noqa: F401  (fixtures)
from unit_helpers import REPO

from polyarch.planning.airtight_plans import airtight_package_plan
from polyarch.planning.bake_targets import host_build
from polyarch.planning.dev_plans import build_plan, up_plan
from polyarch.planning.release_plans import deploy_plan, publish_build_plan
from polyarch.planning.release_rules import release_images
from polyarch.planning.steps.build import Build


MODES = ["dev", "prod", "airtight"]
PLATFORMS = ["linux/amd64", "linux/arm64"]


# What the repo's compose files say, written out by hand. Compose lists a
# build's services in name order.
SERVICES = {"server": ("api", "scheduler", "worker"), "frontend": ("frontend",)}
MODE_TAG = {"dev": "dev", "prod": "latest", "airtight": "latest"}
MODE_TARGET = {"dev": "dev", "prod": "prod", "airtight": "prod"}


COMMON = (("common", str(REPO / "docker/common")),)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("mode_name", MODES)
def test_host_build_has_one_target_per_image(stack, mode_name, platform):
    build = host_build(stack.mode(mode_name), platform)
    assert [t.name for t in build.targets] == ["server", "frontend"]
    assert build.load is True and build.push is False and build.no_cache is False
    for target in build.targets:
        assert target.platforms == (platform,)
        assert target.stage == MODE_TARGET[mode_name]
        assert target.tags == local_names(mode_name, target.name)
        assert target.context == REPO / "docker" / target.name
        assert target.dockerfile == REPO / "docker" / target.name / "Dockerfile"
        assert target.contexts == COMMON
    by_name = {t.name: t for t in build.targets}
    assert by_name["frontend"].args == (("PUBLIC_APP_TITLE", "polyarch sample stack"),)
    assert by_name["server"].args == ()


def test_host_build_tags_cover_every_local_service_name(stack):
    build = host_build(stack.mode("dev"), "linux/arm64")
    tags = [t for target in build.targets for t in target.tags]
    assert sorted(tags) == sorted(
        ["polyarch-api:dev", "polyarch-worker:dev", "polyarch-scheduler:dev", "polyarch-frontend:dev"]
    )
    assert sorted(tags) == sorted(stack.mode("dev").local_names())


def test_host_build_of_chosen_images_only(stack):
    mode = stack.mode("dev")
    build = host_build(mode, "linux/amd64", no_cache=True, images=mode.images_for(("worker",)))
    (target,) = build.targets
    # One image serves api, scheduler and worker: rebuilding it renames all three.
    assert target.name == "server"
    assert target.tags == ("polyarch-api:dev", "polyarch-scheduler:dev", "polyarch-worker:dev")
    assert build.no_cache is True


def test_build_definition_is_bake_json(stack):
    build = host_build(stack.mode("dev"), "linux/arm64")
    data = json.loads(build.definition_json())
    assert data["group"] == {"default": {"targets": ["server", "frontend"]}}
    assert set(data["target"]) == {"server", "frontend"}
    server = data["target"]["server"]
    assert server == {
        "context": str(REPO / "docker/server"),
        "dockerfile": str(REPO / "docker/server/Dockerfile"),
        "target": "dev",
        "platforms": ["linux/arm64"],
        "tags": ["polyarch-api:dev", "polyarch-scheduler:dev", "polyarch-worker:dev"],
        "contexts": {"common": str(REPO / "docker/common")},
        # Local builds carry no provenance: it would change the image ID on every build.
        "attest": ["type=provenance,disabled=true"],
    }
    assert data["target"]["frontend"]["args"] == {"PUBLIC_APP_TITLE": "polyarch sample stack"}
    for name in data["group"]["default"]["targets"]:
        assert name in data["target"]


def _bake_plans(stack):
    """Every plan that builds the repo's images, by name: dev, prod and airtight builds, deploy and publish."""
    images, _, _ = release_images(stack, None, {})
    return {
        "dev": up_plan(stack, stack.mode("dev"), "linux/arm64", env_present=True),
        "prod-build": up_plan(stack, stack.mode("prod"), "linux/amd64", env_present=True),
        "build": build_plan(stack, stack.mode("prod"), "linux/amd64"),
        "deploy": deploy_plan(images, ("linux/amd64", "linux/arm64"), "127.0.0.1:5000/x", "abc1234",
                              fingerprints={"server": "f1", "frontend": "f2"}),
        "package-airtight": airtight_package_plan(stack, "linux/arm64", "1.0", Path("/tmp/dist"), 6),
        "publish-build": publish_build_plan(stack, images, "linux/arm64", "127.0.0.1:5000/x", Path("/tmp/d"),
                                            push_by_digest=True),
        "publish-build-staging": publish_build_plan(stack, images, "linux/amd64", "127.0.0.1:5000/x", Path("/tmp/d"),
                                                    push_by_digest=False),
    }


@pytest.mark.parametrize("plan_name", ["dev", "prod-build", "build", "deploy", "package-airtight", "publish-build",
                                       "publish-build-staging"])
def test_every_bake_target_carries_the_named_contexts(stack, plan_name):
    (build,) = _steps(_bake_plans(stack)[plan_name], Build)
    assert [t.name for t in build.targets] == ["server", "frontend"]
    for target in build.targets:
        assert target.contexts == COMMON
    data = json.loads(build.definition_json())
    for name in ("server", "frontend"):
        assert data["target"][name]["contexts"] == dict(COMMON)


def test_named_contexts_sit_next_to_the_other_deploy_settings(stack):
    """Adding contexts leaves the rest of a deploy target as it was."""
    (build,) = _steps(_bake_plans(stack)["deploy"], Build)
    server = json.loads(build.definition_json())["target"]["server"]
    assert server["target"] == "prod"
    assert server["platforms"] == ["linux/amd64", "linux/arm64"]
    assert server["tags"] == ["127.0.0.1:5000/x/server:abc1234"]
    assert server["annotations"] == ["index:dev.polyarch.inputs=f1"]


def test_repo_host_build_command_loads_and_never_pushes(stack):
    command = host_build(stack.mode("dev"), "linux/amd64").command()
    assert "--load" in command and "--push" not in command
    assert command[-2:] == ["server", "frontend"]
