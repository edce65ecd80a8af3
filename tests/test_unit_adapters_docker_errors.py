"""Docker's failures turned into polyarch's errors (polyarch.adapters.docker.errors), with tips that fit them."""

from __future__ import annotations

import pytest
from python_on_whales.exceptions import DockerException
from unit_helpers import fresh_console  # noqa: F401  (fixtures)

from polyarch.adapters.docker.errors import docker_errors
from polyarch.core.errors import EngineError, MissingTagError


def failed(stderr: str, command: tuple[str, ...] = ("docker", "image", "pull", "r/x:1")) -> DockerException:
    """python-on-whales' own DockerException for COMMAND exiting 1 with STDERR (and no stdout)."""
    return DockerException(list(command), 1, b"", stderr.encode())


def test_a_docker_failure_says_what_polyarch_was_about_to_do_with_docker_s_words():
    with pytest.raises(EngineError) as caught:
        with docker_errors("pull r/x:1 for linux/amd64"):
            raise failed("Error response from daemon: no space left on device")
    assert caught.value.message == ("Could not pull r/x:1 for linux/amd64 (docker exited with 1).\n"
                                    "Error response from daemon: no space left on device")
    # Only the converted error is shown, not python-on-whales' traceback.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_missing_tag_is_a_missing_tag_error_only_where_the_caller_names_the_ref():
    with pytest.raises(MissingTagError) as caught:
        with docker_errors("pull r/x:1", missing="r/x:1"):
            raise failed("manifest unknown")
    assert caught.value.ref == "r/x:1"
    with pytest.raises(EngineError) as plain:
        with docker_errors("pull r/x:1"):
            raise failed("manifest unknown")
    assert not isinstance(plain.value, MissingTagError)


def test_other_errors_and_success_pass_through_unchanged():
    with pytest.raises(ValueError):
        with docker_errors("read JSON"):
            raise ValueError("not JSON")
    with docker_errors("do nothing"):
        pass


def test_a_dead_builder_node_is_not_called_a_dead_engine():
    from polyarch.adapters.docker.errors import explain

    error = explain(failed("ERROR: error during connect: ssh://me@arm-box: connection refused",
                          ("docker", "buildx", "bake", "--builder", "polyarch-native", "server")), "build server")
    assert "A node of the buildx builder does not answer" in error.message and "--builder" in error.tip

    dead_engine = failed("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
                         ("docker", "info"))
    assert "The Docker engine does not answer" in explain(dead_engine, "read info").message


@pytest.mark.parametrize("stderr, names_doctor", [
    ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", True),
    ("docker: 'buildx' is not a docker command.", True),
    ("exec /bin/sh: exec format error", True),
    ("pull access denied for x, repository does not exist", False),
    ("no space left on device", False),
])
def test_doctor_is_suggested_only_for_engine_problems(stderr, names_doctor, fresh_console):
    from polyarch.adapters.docker.errors import explain

    assert ("doctor" in explain(failed(stderr, ("docker", "image", "pull", "x")), "pull x").tip) == names_doctor
