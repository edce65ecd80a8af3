"""The handler table (one handler per step kind) and the run log tasks query by result type."""

from __future__ import annotations

import typing
from pathlib import Path
from types import SimpleNamespace

import pytest

from polyarch.adapters.docker.engine import ImageIndex
from polyarch.execution import handlers
from polyarch.execution.handlers import HANDLERS, handler_for
from polyarch.execution.results import (BuildResult, BundleWritten, PullResult, RunLog, SignatureVerified, UnchangedTarget,
                                        VerifyResult)
from polyarch.execution.runner import run_plan
from polyarch.planning import plans
from polyarch.planning.steps.images import DropKeptNames, KeepNames, Pull, PullVerified, Tag
from polyarch.planning.plans import Plan
from polyarch.planning.steps.release import Verify, VerifySignature

STEP_KINDS = set(typing.get_args(plans.Step))
BOTH = ("linux/amd64", "linux/arm64")


def index(ref: str, digest: str = "sha256:" + "1" * 64) -> ImageIndex:
    return ImageIndex(ref, digest, BOTH)


def test_every_step_kind_has_a_handler_and_the_table_holds_nothing_else():
    missing = sorted(k.__name__ for k in STEP_KINDS - set(HANDLERS))
    extra = sorted(k.__name__ for k in set(HANDLERS) - STEP_KINDS)
    assert not missing, f"step kinds without a handler: {missing}"
    assert not extra, f"handlers for types that are not step kinds: {extra}"


def test_each_step_kind_is_handled_by_exactly_one_module():
    owners: dict[type, list[str]] = {}
    for module in (handlers.build, handlers.bundle, handlers.compose, handlers.files, handlers.images, handlers.registry,
                   handlers.signing):
        for kind in module.HANDLERS:
            owners.setdefault(kind, []).append(module.__name__)
    assert {kind: names for kind, names in owners.items() if len(names) > 1} == {}


def test_a_second_handler_for_a_kind_is_refused():
    module = SimpleNamespace(__name__="tags", HANDLERS={Tag: lambda engine, step, state: None})
    with pytest.raises(TypeError, match="two handlers for Tag"):
        handlers._table(module, module)


def test_a_pull_verified_is_not_run_by_the_plain_pull_handler():
    assert handler_for(PullVerified("r/a:1", "linux/amd64")) is not handler_for(Pull("r/a:1", "linux/amd64"))


def test_a_type_that_is_no_step_kind_has_no_handler():
    class Unknown:
        pass

    with pytest.raises(TypeError, match="no executor for Unknown"):
        handler_for(Unknown())


def test_the_log_finds_results_by_type_in_the_order_the_steps_ran():
    log = RunLog()
    first, second = VerifyResult(index("r/a:1")), VerifyResult(index("r/b:1"))
    log.record(Verify("r/a:1", BOTH), first)
    log.record(Tag("r/a:1", ("r/a:2",)), None)
    log.record(Verify("r/b:1", BOTH), second)
    assert log.all(VerifyResult) == (first, second)
    assert log.first(VerifyResult) is first and log.last(VerifyResult) is second
    assert log.last(VerifyResult, lambda r: r.ref == "r/a:1") is first
    assert log.last(BuildResult) is None and log.all(BuildResult) == ()
    assert [e.number for e in log.entries] == [1, 2, 3] and len(log) == 3


def test_a_build_result_gives_pushed_and_unchanged_digests_and_says_which_were_skipped():
    kept = index("r/web:1", "sha256:" + "2" * 64)
    build = BuildResult({"api": {"containerimage.digest": "sha256:" + "3" * 64}},
                        {"web": UnchangedTarget(index=kept), "db": UnchangedTarget(image_id="sha256:" + "4" * 64)})
    assert build.digest("api") == "sha256:" + "3" * 64 and not build.skipped("api")
    assert build.digest("web") == kept.digest and build.skipped("web")
    assert build.digest("db") is None and build.skipped("db")
    assert build.digest("nothing") is None
    assert build.index_of("r/web:1") is kept and build.index_of("r/api:1") is None


def test_a_target_both_unchanged_and_rebuilt_as_a_dependency_reports_the_registry_digest():
    kept = index("r/base:1", "sha256:" + "5" * 64)
    build = BuildResult({"base": {"containerimage.digest": "sha256:" + "6" * 64}}, {"base": UnchangedTarget(index=kept)})
    assert build.digest("base") == kept.digest and build.skipped("base")


class NamesEngine:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def keep_names(self, names):
        self.calls.append("keep")
        return {name: f"backup-{name}" for name in names}

    def drop_backups(self, kept):
        self.calls.append("drop")
        raise RuntimeError("drop failed")

    def restore_names(self, kept):
        self.calls.append("restore")
        return []


def test_a_failure_dropping_the_backups_does_not_put_the_old_names_back():
    engine = NamesEngine()
    with pytest.raises(RuntimeError, match="drop failed"):
        run_plan(engine, Plan("load", (KeepNames(("a:1",)), DropKeptNames(("a:1",)))))
    assert engine.calls == ["keep", "drop"]


class PullEngine:
    def __init__(self) -> None:
        self.pulled: list[str] = []

    def pull(self, call):
        self.pulled.extend(call.operands)

    def tag(self, source, target):
        pass

    def platform_available(self, ref, platform):
        return True


def test_a_verified_pull_takes_the_digest_the_signature_step_logged():
    from polyarch.execution.handlers import RunState

    engine = PullEngine()
    state = RunState()
    state.log.record(VerifySignature("r/a:1", Path("k.pub")), SignatureVerified("r/a:1", "sha256:" + "7" * 64))
    result = handler_for(PullVerified("r/a:1", "linux/amd64"))(engine, PullVerified("r/a:1", "linux/amd64"), state)
    assert engine.pulled == ["r/a@sha256:" + "7" * 64] and result == PullResult("r/a:1", "linux/amd64")


def test_bundle_statistics_are_typed():
    stats = BundleWritten(10, 1.5, "ab" * 32)
    assert (stats.raw_bytes, stats.seconds, stats.sha256) == (10, 1.5, "ab" * 32)
    with pytest.raises(AttributeError):
        stats.raw_bytes = 11  # frozen


def test_run_plan_returns_the_log():
    assert isinstance(run_plan(None, Plan("nothing", ())), RunLog)
