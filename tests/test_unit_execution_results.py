"""Step results and the run log tasks query by result type (polyarch.execution.results)."""

from __future__ import annotations

import pytest

from polyarch.adapters.docker.engine import ImageIndex
from polyarch.execution.results import BuildResult, BundleWritten, RunLog, UnchangedTarget, VerifyResult
from polyarch.planning.steps.images import Tag
from polyarch.planning.steps.release import Verify


BOTH = ("linux/amd64", "linux/arm64")


def index(ref: str, digest: str = "sha256:" + "1" * 64) -> ImageIndex:
    return ImageIndex(ref, digest, BOTH)


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


def test_bundle_statistics_are_typed():
    stats = BundleWritten(10, 1.5, "ab" * 32)
    assert (stats.raw_bytes, stats.seconds, stats.sha256) == (10, 1.5, "ab" * 32)
    with pytest.raises(AttributeError):
        stats.raw_bytes = 11  # frozen
