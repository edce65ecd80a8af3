"""What a failed bake says (polyarch.adapters.docker.buildx): the image, its services and the line, with a tip that fits."""

from __future__ import annotations

from test_unit_adapters_docker_buildlog import BAKE_FAILURE
from test_unit_adapters_docker_errors import failed


def failed_bake(stderr: str):
    """python-on-whales' DockerException of a bake, with buildx' text; a real failing build is in the engine tests."""
    return failed(stderr, ("docker", "buildx", "bake"))


def test_a_failed_bake_names_image_services_and_line_without_repeating_the_output(tmp_path):
    from polyarch.adapters.docker.buildx import bake_error
    from polyarch.planning.steps.build import BakeTarget, Build

    targets = tuple(BakeTarget(name, tmp_path / name, tmp_path / name / "Dockerfile", None, ("linux/amd64",), (f"{name}:dev",),
                               services=services) for name, services in (("web", ("web",)), ("api", ("api", "worker"))))
    error = bake_error(failed_bake(BAKE_FAILURE), Build(targets, load=True), streamed=True)
    assert error.message.startswith("The api image (services api, worker) failed to build for linux/amd64 at ")
    assert error.message.endswith("api/Dockerfile:3: `RUN echo failing && exit 4` exited with code 4.")
    assert "1.097 failing" not in error.message and "doctor" not in error.tip


UNREACHABLE_BASE = """\
#3 resolve image config for docker-image://docker.io/docker/dockerfile:1.4
#3 ERROR: failed to do request: Head "https://registry-1.docker.io/v2/docker/dockerfile/manifests/1.4": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host
------
 > resolve image config for docker-image://docker.io/docker/dockerfile:1.4:
------
Dockerfile:1
--------------------
   1 | >>> # syntax=docker/dockerfile:1.4
--------------------
ERROR: failed to solve: failed to resolve source metadata for docker.io/docker/dockerfile:1.4: dial tcp: lookup registry-1.docker.io: no such host
"""


def test_a_base_image_the_build_cannot_reach_gets_a_network_tip_not_fix_that_line(tmp_path):
    from polyarch.adapters.docker.buildx import bake_error
    from polyarch.planning.steps.build import BakeTarget, Build

    target = BakeTarget("web", tmp_path, tmp_path / "Dockerfile", None, ("linux/amd64",), ("web:dev",), services=("web",))
    error = bake_error(failed_bake(UNREACHABLE_BASE), Build((target,), load=True), streamed=True)
    assert "docker.io/docker/dockerfile:1.4" in error.message and "no such host" in error.message
    assert "Fix that line" not in error.tip and "network" in error.tip
