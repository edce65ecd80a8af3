"""Planning the developer loop for the repo's stack, and the plan steps' own output.

The stack is the repo's sample project, read the way polyarch reads it:
polyarch.toml plus `docker compose config` of each mode's compose files (the
docker CLI's compose plugin only, no engine).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyarch.core.errors import StackError
from polyarch.planning.airtight_plans import airtight_package_plan
from polyarch.planning.dev_plans import build_plan, compose_for, down_plan, rebuild_plan, up_plan
from polyarch.planning.release_plans import deploy_plan, publish_build_plan
from polyarch.planning.bake_targets import host_build
from polyarch.planning.steps.build import BakeTarget, Build
from polyarch.planning.steps.compose import Compose, ComposeDown, ComposeRemove, ComposeUp
from polyarch.planning.plans import Plan
from polyarch.planning.steps.images import Pull, RemoveImages
from polyarch.planning.steps.release import UpdateValues
from polyarch.planning.release_rules import release_images
from unit_helpers import REPO, REPO_SETTINGS, load_repo_stack

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
COMMON = (("common", str(REPO / "docker/common")),)


@pytest.fixture(scope="module")
def stack():
    return load_repo_stack()


def _steps(plan, kind):
    return [s for s in plan.steps if isinstance(s, kind)]


def local_names(mode_name: str, image: str) -> tuple[str, ...]:
    return tuple(f"polyarch-{s}:{MODE_TAG[mode_name]}" for s in SERVICES[image])


# --- the stack the plans are made from ---------------------------------------------


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


# --- build step --------------------------------------------------------------


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


# --- up ------------------------------------------------------------------------


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


# --- rebuild ----------------------------------------------------------------------------


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


# --- down, clean, nuke --------------------------------------------------------------


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


# --- Build.definition / command --------------------------------------------------


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


def _target(name="app", **extra):
    fields = {"stage": "prod", **extra}
    return BakeTarget(name=name, context=Path("/ctx"), dockerfile=Path("/ctx/Dockerfile"),
                      platforms=("linux/amd64", "linux/arm64"), tags=(f"r/{name}:1",), **fields)


def test_bake_target_optional_fields_appear_only_when_set():
    bare = _target().definition()
    assert set(bare) == {"context", "dockerfile", "target", "platforms", "tags"}
    full = _target(args=(("A", "1"),), cache_from=("type=local,src=/c",), cache_to=("type=local,dest=/c",),
                   outputs=("type=registry",), contexts=(("common", "/shared"), ("lib", "docker-image://alpine:3.20")),
                   provenance=False, fingerprint="f00d", ref="r/app:1").definition()
    assert full["args"] == {"A": "1"}
    assert full["contexts"] == {"common": "/shared", "lib": "docker-image://alpine:3.20"}
    assert full["cache-from"] == ["type=local,src=/c"]
    assert full["cache-to"] == ["type=local,dest=/c"]
    assert full["output"] == ["type=registry"]
    assert full["attest"] == ["type=provenance,disabled=true"]
    assert full["annotations"] == ["index:dev.polyarch.inputs=f00d"]
    json.dumps(full)  # serialisable
    # A local build (no registry ref) keeps its fingerprint as a label only: no index to annotate.
    assert "annotations" not in _target(fingerprint="f00d").definition()


def test_bake_target_without_a_stage_builds_the_last_stage():
    """A compose build without `target:` has stage None: bake gets no target key and builds the Dockerfile's last stage."""
    definition = _target(stage=None).definition()
    assert "target" not in definition
    assert set(definition) == {"context", "dockerfile", "platforms", "tags"}


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
    command = host_build(stack.mode("dev"), "linux/amd64").command()
    assert "--load" in command and "--push" not in command
    assert command[-2:] == ["server", "frontend"]


# --- other steps' summaries, and plans as data ----------------------------------------------


def test_compose_describe():
    compose = Compose("proj", (Path("/a.yaml"), Path("/b.yaml")))
    assert compose.describe() == "-p proj -f /a.yaml -f /b.yaml"


def test_compose_steps_summaries():
    compose = Compose("proj", (Path("/a.yaml"),), variables=(("DOCKER_DEFAULT_PLATFORM", "linux/arm64"),))
    assert ComposeUp(compose).summary() == (
        "compose -p proj -f /a.yaml up --detach --wait --no-build --pull missing --remove-orphans (with DOCKER_DEFAULT_PLATFORM=linux/arm64)")
    assert ComposeUp(Compose("proj", (Path("/a.yaml"),)), pull="never", services=("api", "worker")).summary() == (
        "compose -p proj -f /a.yaml up --detach --wait --no-build --pull never api worker")
    assert ComposeRemove(compose, ("api", "worker")).summary() == (
        "compose -p proj -f /a.yaml rm --force --stop api worker (with DOCKER_DEFAULT_PLATFORM=linux/arm64)")


def test_update_values_summary_names_every_key():
    assert UpdateValues(Path("/v.yaml"), "abc").summary() == "write image.tag = abc into /v.yaml"
    step = UpdateValues(Path("/v.yaml"), "abc", (("config.TOOLS_IMAGE", "r/tools:abc"),))
    assert step.summary() == "write image.tag = abc, config.TOOLS_IMAGE = r/tools:abc into /v.yaml"


def test_remove_images_summary_mentions_pruning_only_when_it_prunes():
    assert RemoveImages(("a:1", "b:2")).summary() == "remove images a:1, b:2, then prune dangling images"
    assert RemoveImages(("a:1",), prune_dangling=False).summary() == "remove images a:1"


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


def test_plan_to_data_keeps_notes():
    assert Plan("t", (), ("a note",)).to_data() == {"title": "t", "notes": ["a note"], "steps": []}
