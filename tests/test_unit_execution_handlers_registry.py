"""Reading tags from the registry while a plan runs (polyarch.execution.handlers.registry): reads ahead, once
per tag, failing at the step that needs them; publish-merge checks each digest is the image publish-build built."""

from __future__ import annotations

import threading

import pytest
from unit_helpers import load_repo_stack

from polyarch.adapters.docker.engine import ImageIndex
from polyarch.core.errors import VerificationError
from polyarch.execution.handlers.registry import read_indexes_ahead
from polyarch.execution.results import BuildResult, RunLog, UnchangedTarget, VerifyResult
from polyarch.execution.runner import run_plan, run_step
from polyarch.planning.plans import Plan
from polyarch.planning.release_plans import publish_merge_plan
from polyarch.planning.release_rules import SourceInfo, release_images
from polyarch.planning.steps.build import Build
from polyarch.planning.steps.images import Tag
from polyarch.planning.steps.release import Verify


BOTH = ("linux/amd64", "linux/arm64")


class RecordingRegistry:
    """Test double for Engine: serves made-up indexes and records every registry read."""

    def __init__(self, platforms: dict[str, tuple[str, ...]] | None = None, barrier: threading.Barrier | None = None,
                 broken: dict[str, Exception] | None = None) -> None:
        self.platforms = platforms or {}
        self.barrier = barrier
        self.broken = broken or {}
        self.reads: list[str] = []
        self.tagged: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def inspect_index(self, ref: str, missing_ok: bool = False, labels: bool = False) -> ImageIndex:
        with self._lock:
            self.reads.append(ref)
        if self.barrier is not None:
            self.barrier.wait()  # BrokenBarrierError unless every read of the run is in flight at once
        if ref in self.broken:
            raise self.broken[ref]
        return ImageIndex(ref, f"sha256:{len(ref):064x}", self.platforms.get(ref, BOTH))

    def tag(self, source: str, target: str) -> None:
        self.tagged.append((source, target))


def test_the_reads_of_a_run_of_verify_steps_are_in_flight_together():
    registry = RecordingRegistry(barrier=threading.Barrier(3, timeout=5))
    log = run_plan(registry, Plan("verify", tuple(Verify(ref, BOTH) for ref in ("r/a:1", "r/b:1", "r/c:1"))))
    assert [v.ref for v in log.all(VerifyResult)] == ["r/a:1", "r/b:1", "r/c:1"]
    assert sorted(registry.reads) == ["r/a:1", "r/b:1", "r/c:1"]


def test_each_tag_is_read_once_per_run_and_again_after_any_other_step():
    registry = RecordingRegistry()
    steps = (Verify("r/a:1", BOTH), Verify("r/b:1", BOTH), Tag("r/a:1", ("r/b:1",)), Verify("r/a:1", BOTH), Verify("r/b:1", BOTH))
    run_plan(registry, Plan("verify, tag, verify", steps))
    assert registry.tagged == [("r/a:1", "r/b:1")]
    assert sorted(registry.reads[:2]) == ["r/a:1", "r/b:1"] and sorted(registry.reads[2:]) == ["r/a:1", "r/b:1"]
    assert len(registry.reads) == 4


def test_a_tag_this_run_already_read_is_not_read_again():
    known = ImageIndex("r/a:1", "sha256:" + "a" * 64, BOTH)
    results = RunLog()
    results.record(Build(()), BuildResult(unchanged={"server": UnchangedTarget(index=known)}))  # a Build that found the image unchanged
    registry = RecordingRegistry()
    ahead = read_indexes_ahead(registry, (Verify("r/a:1", BOTH), Verify("r/b:1", BOTH), Verify("r/c:1", BOTH)), results)
    assert ahead["r/a:1"] is known and sorted(ahead) == ["r/a:1", "r/b:1", "r/c:1"]
    assert sorted(registry.reads) == ["r/b:1", "r/c:1"]


def test_a_step_fails_at_its_own_place_even_when_a_later_read_failed_first():
    registry = RecordingRegistry(platforms={"r/a:1": ("linux/amd64",)}, broken={"r/b:1": ValueError("garbled answer")})
    with pytest.raises(VerificationError, match=r"r/a:1 does not serve linux/arm64"):
        run_plan(registry, Plan("verify", (Verify("r/a:1", BOTH), Verify("r/b:1", BOTH))))


def test_any_error_reading_a_tag_is_raised_by_that_tags_step():
    registry = RecordingRegistry(broken={"r/b:1": ValueError("garbled answer")})
    with pytest.raises(ValueError, match="garbled answer"):
        run_plan(registry, Plan("verify", (Verify("r/a:1", BOTH), Verify("r/b:1", BOTH), Verify("r/c:1", BOTH))))
    assert sorted(registry.reads) == ["r/a:1", "r/b:1", "r/c:1"]


def test_a_known_tag_in_the_middle_of_a_run_starts_no_second_read(monkeypatch):
    import polyarch.execution.handlers.registry as registry_steps

    known = ImageIndex("r/b:1", "sha256:" + "b" * 64, BOTH)
    # As if a Build step earlier in the run had found r/b:1 unchanged in the registry.
    monkeypatch.setattr(registry_steps, "index_read_this_run", lambda log, ref: known if ref == "r/b:1" else None)
    registry = RecordingRegistry()
    log = run_plan(registry, Plan("verify", tuple(Verify(ref, BOTH) for ref in ("r/a:1", "r/b:1", "r/c:1", "r/d:1"))))
    assert log.all(VerifyResult)[1].index is known
    assert sorted(registry.reads) == ["r/a:1", "r/c:1", "r/d:1"]


D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
TITLE = "org.opencontainers.image.title"
REVISION = "org.opencontainers.image.revision"


def test_every_merge_source_must_carry_the_labels_publish_build_stamps():
    images, _, _ = release_images(load_repo_stack(), None, {})
    digests = {name: {"linux/amd64": D1, "linux/arm64": D2} for name in ("server", "frontend")}
    plan = publish_merge_plan(images, "r:5000/ns", digests, ("1.0",), ("linux/amd64", "linux/arm64"),
                              SourceInfo("e" * 40, 1700000000, None))
    sources = [s for s in plan.steps if isinstance(s, Verify) and s.single]
    assert len(sources) == 4
    assert {dict(s.labels)[TITLE] for s in sources} == {"server", "frontend"}
    assert all(dict(s.labels)[REVISION] == "e" * 40 for s in sources)
    assert f"labelled {TITLE}=server, {REVISION}={'e' * 40}" in sources[0].summary()


class LabelsEngine:
    """Test double for the engine: the registry answers a single amd64 manifest, with the given labels when asked for them."""

    def __init__(self, labels):
        self.labels = labels

    def inspect_index(self, ref, missing_ok=False, labels=False):
        return ImageIndex(ref, ref.split("@")[1], ("linux/amd64",), {}, True, self.labels if labels else {})


def test_a_digest_of_another_image_is_refused_naming_image_arch_and_digest():
    step = Verify(f"r:5000/ns/server@{D1}", ("linux/amd64",), single=True, labels=((TITLE, "server"), (REVISION, "e" * 40)))
    with pytest.raises(VerificationError) as caught:
        run_step(LabelsEngine({}), step)
    message = caught.value.message
    assert f"r:5000/ns/server for linux/amd64: the digest {D1} is not the image publish-build built" in message
    assert f"it has no {TITLE} label" in message and "nothing was merged" in message
    with pytest.raises(VerificationError, match=f"{TITLE} is 'frontend'"):
        run_step(LabelsEngine({TITLE: "frontend", REVISION: "e" * 40}), step)
    assert run_step(LabelsEngine({TITLE: "server", REVISION: "e" * 40, "other": "x"}), step).index.single
