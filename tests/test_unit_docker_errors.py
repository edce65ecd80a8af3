"""One place turns python-on-whales' DockerException into polyarch's errors: docker_errors."""

from __future__ import annotations

import pytest
from python_on_whales.exceptions import DockerException

from polyarch.adapters.docker.errors import docker_errors
from polyarch.core.errors import EngineError, MissingTagError


def failed(stderr: str) -> DockerException:
    return DockerException(["docker", "image", "pull", "r/x:1"], 1, b"", stderr.encode())


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
        done = True
    assert done
