"""The plan steps' own output (polyarch.planning.steps): bake targets, commands, summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyarch.planning.steps.build import BakeTarget, Build
from polyarch.planning.steps.compose import Compose, ComposeRemove, ComposeUp
from polyarch.planning.steps.images import RemoveImages
from polyarch.planning.steps.release import UpdateValues


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
