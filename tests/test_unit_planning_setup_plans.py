"""The builder plan (polyarch.planning.setup_plans)."""

from __future__ import annotations

from polyarch.planning.setup_plans import builder_plan
from polyarch.planning.steps.build import AddBuilderNode, RemoveBuilder


# A remote multi-node builder (an arm64 machine over ssh) cannot be had on this
# machine, so the builder is tested as a plan: the exact nodes it would create.
def test_builder_plan_one_native_node_per_platform():
    plan = builder_plan("team", (("linux/amd64", "unix:///var/run/docker.sock"), ("linux/arm64", "ssh://me@arm")), exists=False)
    assert plan.steps == (
        AddBuilderNode("team", "linux/amd64", "unix:///var/run/docker.sock", append=False),
        AddBuilderNode("team", "linux/arm64", "ssh://me@arm", append=True),
    )


def test_builder_plan_replaces_an_existing_builder():
    plan = builder_plan("team", (("linux/arm64", "ssh://me@arm"),), exists=True)
    assert plan.steps[0] == RemoveBuilder("team")
    assert plan.steps[1] == AddBuilderNode("team", "linux/arm64", "ssh://me@arm", append=False)
