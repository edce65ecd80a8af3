"""The handler table (polyarch.execution.handlers): one handler per step kind, and the image-name handlers."""

from __future__ import annotations

import typing
from pathlib import Path
from types import SimpleNamespace

import pytest

from polyarch.execution import handlers
from polyarch.execution.handlers import HANDLERS, handler_for
from polyarch.execution.results import PullResult, SignatureVerified
from polyarch.execution.runner import run_plan
from polyarch.planning import plans
from polyarch.planning.plans import Plan
from polyarch.planning.steps.images import DropKeptNames, KeepNames, Pull, PullVerified, Tag
from polyarch.planning.steps.release import VerifySignature


STEP_KINDS = set(typing.get_args(plans.Step))


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
