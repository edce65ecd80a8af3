"""What a plan prints is what the engine is asked to do (polyarch.planning.plans): every step kind,
run against a recording test double.

A real engine cannot show which arguments it was handed, so RecordingEngine
below (a test double for polyarch.adapters.docker.engine.Engine) records every call; each
step's printed line must name exactly those arguments. Steps with a docker
command line print it from the same `call()` the engine receives.
"""

from __future__ import annotations

import contextlib
import io
import typing
from pathlib import Path

import pytest

from polyarch.adapters.docker.args import DockerArgs
from polyarch.adapters.docker.engine import ImageIndex, LocalImage
from polyarch.execution.runner import run_plan
from polyarch.planning import plans
from polyarch.planning.plans import Plan
from polyarch.planning.steps.build import AddBuilderNode, BakeTarget, Build, RemoveBuilder
from polyarch.planning.steps.bundle import FetchBundle, LoadBundle, SaveBundle, VerifyBundleSignature
from polyarch.planning.steps.compose import Compose, ComposeDown, ComposeRemove, ComposeUp
from polyarch.planning.steps.files import InitEnv, WriteFiles
from polyarch.planning.steps.images import (
    CheckImages, DropKeptNames, KeepNames, Pull, PullVerified, RemoveImages, RestoreNames, Tag
)
from polyarch.planning.steps.release import (
    CopyByDigest, CreateManifest, RecordDigests, SignImage, UpdateValues, Verify, VerifySignature
)


DIGEST = "sha256:" + "ab" * 32
COMPOSE = Compose("proj", (Path("/p/base.yaml"), Path("/p/dev.yaml")), (Path("/p/.env"),), (("DOCKER_DEFAULT_PLATFORM", "linux/arm64"),))


class RecordingEngine:
    """Test double for Engine: answers like a healthy engine and records (method, arguments) of every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def _record(self, name: str, *args):
        self.calls.append((name, args))

    def bake(self, build, metadata=False, on_line=None, env=()):
        self._record("bake", build.call())
        return {t.name: {"containerimage.digest": DIGEST} for t in build.targets}

    def tag(self, source, target):
        self._record("tag", source, target)

    def pull(self, call):
        self._record("pull", call)

    def platform_available(self, ref, platform):
        return True

    def compose_up(self, compose, call, on_line):
        self._record("compose_up", compose.client_options(), compose.variables, call)

    def compose_down(self, compose, call, on_line):
        self._record("compose_down", compose.client_options(), compose.variables, call)

    def compose_remove(self, compose, call):
        self._record("compose_remove", compose.client_options(), compose.variables, call)

    def remove_images(self, refs, prune_dangling, repositories=()):
        self._record("remove_images", refs, prune_dangling, repositories)
        return list(refs)

    def local_images(self, refs):
        self._record("local_images", refs)
        return {ref: LocalImage("sha256:1", {}, "linux/arm64") for ref in refs}

    def inspect_index(self, ref, missing_ok=False, labels=False):
        self._record("inspect_index", ref)
        return ImageIndex(ref, DIGEST, ("linux/amd64", "linux/arm64"))

    def create_manifest(self, tags, sources, annotations=None):
        self._record("create_manifest", tags, sources, annotations)

    def remove_builder(self, name):
        self._record("remove_builder", name)

    def add_builder_node(self, name, platform, endpoint, append):
        self._record("add_builder_node", name, platform, endpoint, append)

    def image_ids(self, refs):
        self._record("image_ids", refs)
        return {ref: "sha256:1" for ref in refs}

    @contextlib.contextmanager
    def save_stream(self, refs):
        self._record("save_stream", refs)
        yield io.BytesIO(b"not really a tar")

    def keep_names(self, names):
        self._record("keep_names", names)
        return {name: f"kept:{n}" for n, name in enumerate(names)}

    def restore_names(self, kept):
        self._record("restore_names", tuple(kept))
        return []  # no problems putting them back

    def drop_backups(self, kept):
        self._record("drop_backups", tuple(kept))

    def load(self, bundle):
        self._record("load", bundle)
        return ["a:1"]

    def registry_mirrors(self):
        return ()


def compose_line(call: DockerArgs) -> str:
    """A compose call as the plan must print it: the COMPOSE project's options, then the call's own words."""
    first, *rest = call.words()
    return f"{first} -p proj -f /p/base.yaml -f /p/dev.yaml --env-file /p/.env {' '.join(rest)} (with DOCKER_DEFAULT_PLATFORM=linux/arm64)"


def check_compose(summary: str, calls, kind: str) -> None:
    ((name, (options, variables, call)),) = calls
    assert name == kind
    assert options == {"compose_project_name": "proj", "compose_files": ["/p/base.yaml", "/p/dev.yaml"], "compose_env_files": ["/p/.env"]}
    assert variables == COMPOSE.variables
    assert compose_line(call) in summary


TARGET = BakeTarget("server", Path("/p/server"), Path("/p/server/Dockerfile"), "prod", ("linux/amd64",), ("r/server:1",))


def cases(tmp: Path) -> dict[type, tuple[list, typing.Callable[[str, list], None]]]:
    """Per step kind: the steps to run, and a check of the printed line against the recorded calls."""
    values = tmp / "values.yaml"
    values.write_text("image:\n  tag: old\n")
    bundle = tmp / "b.tar.gz"
    bundle.write_bytes(b"x")

    def build_check(summary, calls):
        ((name, (call,)),) = calls
        assert name == "bake" and call == Build((TARGET,), push=True, no_cache=True, builder="b1").call()
        assert " ".join(call.words()[2:]).replace("<bake.json>", "").split() == ["--file", "--builder", "b1", "--push", "--no-cache", "server"]

    def pull_check(summary, calls):
        ((name, (call,)),) = calls
        assert name == "pull" and call.operands == ("busybox:1",) and call.kwargs() == {"platform": "linux/arm64", "quiet": True}
        assert summary.startswith("pull busybox:1 for linux/arm64")

    def tag_check(summary, calls):
        assert calls == [("tag", ("a:1", "b:1")), ("tag", ("a:1", "c:1"))]
        assert summary == "tag a:1 as b:1, c:1"

    def names_check(method: str):
        def check(summary, calls):
            assert calls[-1] == (method, (("a:1", "b:1"),))
            assert "2 local names" in summary or "the 2 loaded images" in summary
        return check

    return {
        Build: ([Build((TARGET,), push=True, no_cache=True, builder="b1")], build_check),
        Tag: ([Tag("a:1", ("b:1", "c:1"))], tag_check),
        Pull: ([Pull("busybox:1", "linux/arm64")], pull_check),
        ComposeUp: ([ComposeUp(COMPOSE)], lambda s, c: check_compose(s, c, "compose_up")),
        ComposeDown: ([ComposeDown(COMPOSE, volumes=True)], lambda s, c: check_compose(s, c, "compose_down")),
        ComposeRemove: ([ComposeRemove(COMPOSE, ("api", "worker"))], lambda s, c: check_compose(s, c, "compose_remove")),
        RemoveImages: ([RemoveImages(("a:1", "b:1"), True, ("r/a",))],
                       lambda s, c: (c == [("remove_images", (("a:1", "b:1"), True, ("r/a",)))]
                                     and s == "remove images a:1, b:1, and every local tag of r/a, then prune dangling images") or pytest.fail(s)),
        CheckImages: ([CheckImages(("a:1", "b:1"), platform="linux/arm64")],
                      lambda s, c: (c == [("local_images", (("a:1", "b:1"),))] and "a:1, b:1" in s and "linux/arm64" in s) or pytest.fail(s)),
        Verify: ([Verify("r/a:1", ("linux/amd64", "linux/arm64"))],
                 lambda s, c: (c == [("inspect_index", ("r/a:1",))] and s == "verify r/a:1 lists linux/amd64, linux/arm64") or pytest.fail(s)),
        CreateManifest: ([CreateManifest(("r/a:1", "r/a:latest"), ("r/a@sha256:1", "r/a@sha256:2"))],
                         lambda s, c: (c == [("create_manifest", (("r/a:1", "r/a:latest"), ("r/a@sha256:1", "r/a@sha256:2"), {}))]
                                       and s == "create manifest list r/a:1, r/a:latest from r/a@sha256:1, r/a@sha256:2") or pytest.fail(s)),
        RemoveBuilder: ([RemoveBuilder("b1")], lambda s, c: (c == [("remove_builder", ("b1",))] and "b1" in s) or pytest.fail(s)),
        AddBuilderNode: ([AddBuilderNode("b1", "linux/arm64", "ssh://arm", True)],
                         lambda s, c: (c == [("add_builder_node", ("b1", "linux/arm64", "ssh://arm", True))]
                                       and s.startswith("append to builder b1: node for linux/arm64 at ssh://arm")) or pytest.fail(s)),
        KeepNames: ([KeepNames(("a:1", "b:1"))], names_check("keep_names")),
        RestoreNames: ([KeepNames(("a:1", "b:1")), RestoreNames(("a:1", "b:1"))], names_check("restore_names")),
        DropKeptNames: ([KeepNames(("a:1", "b:1")), DropKeptNames(("a:1", "b:1"))], names_check("drop_backups")),
        LoadBundle: ([LoadBundle(bundle)], lambda s, c: (c == [("load", (bundle,))] and s == f"docker load < {bundle}") or pytest.fail(s)),
        SaveBundle: ([SaveBundle(("a:1", "b:1"), tmp / "out.tar.gz", tmp / "out.tar.gz.sha256", "proj", "1", "linux/arm64", 1)],
                     lambda s, c: (c == [("image_ids", (("a:1", "b:1"),)), ("save_stream", (("a:1", "b:1"),))]
                                   and "save 2 images" in s and str(tmp / "out.tar.gz") in s) or pytest.fail(s)),
        UpdateValues: ([UpdateValues(values, "v2")],
                       lambda s, c: (c == [] and s == f"write image.tag = v2 into {values}" and "tag: v2" in values.read_text()) or pytest.fail(s)),
        RecordDigests: ([Build((TARGET,), push=True), RecordDigests(tmp / "digests", "linux/amd64", ("server",))],
                        lambda s, c: (s == f"write server digests for linux/amd64 under {tmp / 'digests'}"
                                      and (tmp / "digests" / "server" / "amd64").read_text().strip() == DIGEST) or pytest.fail(s)),
    }


# Steps whose work happens outside the engine (HTTP to registries, cosign, local files), or that need such a step's
# result first (PullVerified pulls the digest a cosign check returned): their lines are checked against their fields.
NOT_THROUGH_THE_ENGINE = {
    InitEnv: lambda tmp: (InitEnv(tmp / ".env", True, tmp / ".env.example", ("SECRET_KEY",)),
                          [str(tmp / ".env"), "0600", str(tmp / ".env.example"), "SECRET_KEY"]),
    WriteFiles: lambda tmp: (WriteFiles(((tmp / "a.yml", "x: 1\n"), (tmp / "b.yml", "y: 2\n"))), [str(tmp / "a.yml"), str(tmp / "b.yml")]),
    SignImage: lambda tmp: (SignImage("r/a:1", key=tmp / "cosign.key"), ["r/a:1", str(tmp / "cosign.key"), "no transparency log"]),
    VerifySignature: lambda tmp: (VerifySignature("r/a:1", tmp / "cosign.pub"), ["r/a:1", str(tmp / "cosign.pub")]),
    VerifyBundleSignature: lambda tmp: (VerifyBundleSignature(tmp / "b.tar.gz", tmp / "b.tar.gz.sig", tmp / "cosign.pub"),
                                        ["b.tar.gz", "b.tar.gz.sig", str(tmp / "cosign.pub"), "before loading"]),
    PullVerified: lambda tmp: (PullVerified("r/a:1", "linux/arm64"), ["r/a:1", "linux/arm64", "verified"]),
    FetchBundle: lambda tmp: (FetchBundle(((("a:1",), "r/a:1"),), tmp / "b.tar.gz", tmp / "b.tar.gz.sha256", "proj", "1", "linux/arm64", 1),
                              ["r/a:1", str(tmp / "b.tar.gz"), "linux/arm64"]),
    CopyByDigest: lambda tmp: (CopyByDigest("server", "r/staging/server", "r/server"), ["server", "r/staging/server", "r/server@<digest>"]),
}


def test_every_step_kind_is_covered_here(tmp_path):
    kinds = set(typing.get_args(plans.Step))
    assert kinds == set(cases(tmp_path)) | set(NOT_THROUGH_THE_ENGINE)


@pytest.mark.parametrize("kind", sorted(set(typing.get_args(plans.Step)) - set(NOT_THROUGH_THE_ENGINE), key=lambda k: k.__name__))
def test_the_printed_line_names_what_the_engine_receives(kind, tmp_path, monkeypatch):
    monkeypatch.setattr("polyarch.adapters.bundle.compressor", lambda level: None)  # Python's gzip: no pigz process
    steps, check = cases(tmp_path)[kind]
    engine = RecordingEngine()
    run_plan(engine, Plan("test", tuple(steps)))
    step = steps[-1]
    before = [c for c in engine.calls]
    # Only the calls the last step made are its own.
    engine_for_earlier = RecordingEngine()
    if len(steps) > 1:
        run_plan(engine_for_earlier, Plan("earlier", tuple(steps[:-1])))
    own = before[len(engine_for_earlier.calls):]
    check(step.summary(), own if kind not in (RestoreNames, DropKeptNames) else before)


@pytest.mark.parametrize("kind", list(NOT_THROUGH_THE_ENGINE), ids=lambda k: k.__name__)
def test_steps_outside_the_engine_name_their_sources_and_destinations(kind, tmp_path):
    step, pieces = NOT_THROUGH_THE_ENGINE[kind](tmp_path)
    for piece in pieces:
        assert piece in step.summary()


def test_compose_up_prints_remove_orphans_exactly_when_the_engine_passes_it():
    whole, some = ComposeUp(COMPOSE), ComposeUp(COMPOSE, services=("api",))
    assert whole.call().kwargs()["remove_orphans"] is True and "--remove-orphans" in whole.summary()
    assert some.call().kwargs()["remove_orphans"] is False and "--remove-orphans" not in some.summary()


def test_a_compose_project_without_an_env_file_prints_none():
    bare = Compose("proj", (Path("/p/base.yaml"),))
    assert bare.client_options()["compose_env_files"] == [] and "--env-file" not in ComposeUp(bare).summary()


def test_plan_to_data_keeps_notes():
    assert Plan("t", (), ("a note",)).to_data() == {"title": "t", "notes": ["a note"], "steps": []}
