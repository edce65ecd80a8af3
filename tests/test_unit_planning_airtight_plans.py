"""Plans that package and run an airtight bundle (polyarch.planning.airtight_plans)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_unit_planning_release_rules import stack  # noqa: F401  (fixtures)
from test_unit_model_signing import signed_stack  # noqa: F401  (fixtures)
from unit_helpers import REPO, compose_cli, load_clean, load_repo_stack  # noqa: F401  (fixtures)

from polyarch.planning.airtight_plans import airtight_package_plan, airtight_run_plan
from polyarch.planning.steps.build import Build
from polyarch.planning.steps.bundle import FetchBundle, LoadBundle, SaveBundle, VerifyBundleSignature
from polyarch.planning.steps.compose import ComposeDown, ComposeUp
from polyarch.planning.steps.images import CheckImages, DropKeptNames, KeepNames, Pull, RestoreNames


def test_airtight_package_plan_builds_pulls_and_saves_one_bundle(stack):
    plan = airtight_package_plan(stack, "linux/arm64", "1.0", Path("/dist"), level=1)
    assert [type(s) for s in plan.steps] == [KeepNames, Build, Pull, SaveBundle, RestoreNames]
    keep, build, pull, save, restore = plan.steps
    # Every local name the build replaces is noted first and put back last.
    assert set(keep.names) == {t for target in build.targets for t in target.tags} and restore.names == keep.names
    assert [(t.name, t.stage, t.platforms) for t in build.targets] == [
        ("server", "prod", ("linux/arm64",)), ("frontend", "prod", ("linux/arm64",))]
    assert build.load is True and build.pushes is False
    # Not only-if-missing: the bundle must hold exactly this platform's variant.
    assert pull == Pull("busybox:1.36.1", "linux/arm64")
    assert save.refs == stack.role("airtight").local_names() + ("busybox:1.36.1",)
    assert set(save.refs) == {f"polyarch-{s}:latest" for s in ("api", "scheduler", "worker", "frontend")} | {"busybox:1.36.1"}
    assert save.bundle == Path("/dist/polyarch-airtight-1.0-arm64.tar.gz")
    assert save.checksum == Path("/dist/polyarch-airtight-1.0-arm64.tar.gz.sha256")
    assert (save.stack, save.version, save.platform, save.level) == ("polyarch", "1.0", "linux/arm64", 1)


@pytest.mark.parametrize("bundle", [None, Path("/dist/b.tar.gz")])
def test_airtight_run_plan_never_pulls_or_builds(stack, bundle):
    from polyarch.planning.steps.images import DropKeptNames, KeepNames

    plan = airtight_run_plan(stack, bundle, "linux/amd64", env_present=True, sha256="ab" * 32 if bundle else None)
    loading = [KeepNames, LoadBundle, CheckImages, DropKeptNames] if bundle else [CheckImages]
    assert [type(s) for s in plan.steps] == loading + [ComposeDown, ComposeUp]
    if bundle:
        # The previous images are kept until the loaded ones pass every check.
        assert plan.steps[1] == LoadBundle(bundle, "ab" * 32)
        assert plan.steps[0].names == plan.steps[3].names == plan.steps[2].refs
    check = next(s for s in plan.steps if isinstance(s, CheckImages))
    down, up = plan.steps[-2:]
    assert check.refs == stack.role("airtight").local_names() + ("busybox:1.36.1",)
    assert "--bundle" in check.tip
    assert down.compose.files == stack.all_files()
    assert up.pull == "never" and "--no-build --pull never" in up.summary()
    assert up.compose.files == (REPO / "compose/base.yaml", REPO / "compose/airtight.yaml")


def test_airtight_run_plan_without_start_only_loads_and_checks(stack):
    plan = airtight_run_plan(stack, Path("/dist/b.tar.gz"), "linux/amd64", env_present=False, start=False)
    assert not [s for s in plan.steps if isinstance(s, (ComposeDown, ComposeUp))]
    assert plan.title.startswith("load ")


def test_package_plan_from_a_registry_builds_and_saves_nothing(stack):
    from polyarch.planning.steps.build import Build
    from polyarch.planning.steps.bundle import FetchBundle

    plan = airtight_package_plan(stack, "linux/arm64", "1.0", Path("/dist"), level=1, registry="r:5000/ns")
    (fetch,) = plan.steps
    assert isinstance(fetch, FetchBundle) and not any(isinstance(s, (Build, SaveBundle)) for s in plan.steps)
    assert fetch.images[0] == (stack.role("airtight").image("server").local_names, "r:5000/ns/server:1.0")
    assert fetch.images[-1] == (("busybox:1.36.1",), "busybox:1.36.1")
    assert fetch.refs == stack.role("airtight").local_names() + ("busybox:1.36.1",)


def test_prod_airtight_keeps_names_until_the_checks_pass_not_until_a_bundle_is_written(tmp_path):
    from polyarch.planning.airtight_plans import airtight_run_plan

    stack = load_repo_stack()
    plan = airtight_run_plan(stack, tmp_path / "b.tar.gz", "linux/amd64", env_present=True)
    (keep,) = [s for s in plan.steps if isinstance(s, KeepNames)]
    assert "bundle is written" not in keep.summary() and "if a check of the loaded images fails" in keep.summary()


def test_a_signed_bundle_is_checked_before_anything_is_loaded(signed_stack, tmp_path):
    stack = load_clean(signed_stack)
    key, public = signed_stack.parent / "keys" / "cosign.key", signed_stack.parent / "keys" / "cosign.pub"
    package = airtight_package_plan(stack, "linux/amd64", "1.0.0", tmp_path, level=1, key=key)
    save = next(s for s in package.steps if isinstance(s, SaveBundle))
    assert save.signature.key == key and save.signature.path == save.bundle.with_name(save.bundle.name + ".sig")
    assert ".sig signed with" in save.summary()
    run = airtight_run_plan(stack, save.bundle, "linux/amd64", env_present=True, public_key=public)
    assert isinstance(run.steps[0], VerifyBundleSignature)
    assert run.steps[0].signature == save.signature.path
    assert any(isinstance(s, LoadBundle) for s in run.steps[1:])
