"""Foundation checks against the real engine, buildx, QEMU and the local registry."""

from __future__ import annotations

import uuid

from conftest import REGISTRY, run_invoke

from polyarch.adapters.docker.engine import Engine
from polyarch.planning.steps.build import BakeTarget, Build

TINY_DOCKERFILE = """\
FROM busybox:1.36.1
ARG TARGETPLATFORM
RUN echo "$TARGETPLATFORM $(uname -m)" > /built-on
CMD ["cat", "/built-on"]
"""


def test_engine_module_pushes_a_two_platform_manifest_list(registry, tmp_path):
    (tmp_path / "Dockerfile").write_text(TINY_DOCKERFILE)
    ref = f"{REGISTRY}/polyarch-test/tiny:{uuid.uuid4().hex[:12]}"
    build = Build(
        targets=(BakeTarget("tiny", tmp_path, tmp_path / "Dockerfile", "", ("linux/amd64", "linux/arm64"), (ref,)),),
        push=True,
    )
    engine = Engine()
    # Through the same retry a real run uses: the local registry (distribution's
    # filesystem store) now and then answers a push with a 500.
    from polyarch.execution.handlers.build import bake_with_retry

    metadata = bake_with_retry(engine, build)
    index = engine.inspect_index(ref)
    assert sorted(index.platforms) == ["linux/amd64", "linux/arm64"]
    assert index.digest and index.digest == metadata["tiny"]["containerimage.digest"]


def test_an_arm64_container_really_runs_arm64_code(engine, registry, tmp_path):
    (tmp_path / "Dockerfile").write_text(TINY_DOCKERFILE)
    tag = f"polyarch-test-tiny:{uuid.uuid4().hex[:12]}"
    build = Build(targets=(BakeTarget("tiny", tmp_path, tmp_path / "Dockerfile", "", ("linux/arm64",), (tag,)),), load=True)
    e = Engine()
    e.bake(build)
    try:
        assert e.platform_available(tag, "linux/arm64")
        out = engine.run(tag, remove=True, platform="linux/arm64")
        assert out.strip() == "linux/arm64 aarch64"
    finally:
        engine.image.remove(tag, force=True)


def test_doctor_is_green_on_a_provisioned_machine(registry):
    result = run_invoke(["doctor"])
    assert "FAIL" not in result.stderr
    assert "runs linux/arm64" in result.stderr and "everything polyarch needs is in place" in result.stderr


def test_doctor_names_the_fix_when_the_engine_does_not_answer(engine):
    result = run_invoke(["doctor"], env={"DOCKER_HOST": "tcp://127.0.0.1:9"}, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "docker engine" in result.stderr and "FAIL" in result.stderr
    assert "Start Docker" in result.stderr


def test_doctor_names_the_fix_when_qemu_is_not_registered(engine, tmp_path):
    empty = tmp_path / "binfmt"
    empty.mkdir()
    result = run_invoke(["doctor", "--binfmt-dir", str(empty)], check=False)
    assert result.returncode != 0
    assert "QEMU for linux/arm64 is not registered" in result.stderr
    assert "update-binfmts --enable qemu-aarch64" in result.stderr
