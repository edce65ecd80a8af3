"""publish-merge checks that each digest is the image publish-build built (its labels), not only its platform."""

from __future__ import annotations

import pytest
from unit_helpers import load_repo_stack

from polyarch.adapters.docker.engine import ImageIndex
from polyarch.core.errors import VerificationError
from polyarch.execution.runner import run_step
from polyarch.planning.release_plans import publish_merge_plan
from polyarch.planning.steps.release import Verify
from polyarch.planning.release_rules import SourceInfo, release_images

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
    """Test double for the engine: the registry answers a single amd64 manifest with the given labels."""

    def __init__(self, labels):
        self.labels = labels

    def inspect_index(self, ref, missing_ok=False):
        return ImageIndex(ref, ref.split("@")[1], ("linux/amd64",), {}, True, self.labels)


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
