"""Image references by Docker's rules (polyarch.core.imageref), one table per question."""

from __future__ import annotations

import pytest

from polyarch.core import imageref
from polyarch.core.imageref import ImageRef, ImageRefError


A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


@pytest.mark.parametrize(("ref", "parts"), [
    ("redis", ImageRef("", "redis")),
    ("redis:7", ImageRef("", "redis", "7")),
    ("library/redis:7", ImageRef("", "library/redis", "7")),
    ("docker.io/library/redis:7", ImageRef("docker.io", "library/redis", "7")),
    ("index.docker.io/library/redis:7", ImageRef("index.docker.io", "library/redis", "7")),
    ("registry-1.docker.io/library/redis:7", ImageRef("registry-1.docker.io", "library/redis", "7")),
    ("127.0.0.1:5000/shop/api:1.0", ImageRef("127.0.0.1:5000", "shop/api", "1.0")),
    ("localhost:5000/x", ImageRef("localhost:5000", "x")),
    ("localhost/x", ImageRef("localhost", "x")),
    ("localhost:5000", ImageRef("", "localhost", "5000")),  # no slash: a name and a tag
    ("shop/api:2", ImageRef("", "shop/api", "2")),
    ("Registry/app", ImageRef("Registry", "app")),  # uppercase: a host, as Docker reads it
    (f"host:5000/x@{A}", ImageRef("host:5000", "x", "", A)),
    (f"name:tag@{A}", ImageRef("", "name", "tag", A)),
    ("[::1]:5000/app:1", ImageRef("[::1]:5000", "app", "1")),
])
def test_a_reference_splits_into_host_path_tag_and_digest(ref, parts):
    assert imageref.split(ref) == parts
    assert str(parts) == ref


@pytest.mark.parametrize(("ref", "full", "familiar", "comparable"), [
    ("redis", "docker.io/library/redis:latest", "redis", "redis:latest"),
    ("library/redis:7", "docker.io/library/redis:7", "redis:7", "redis:7"),
    ("docker.io/library/redis:7", "docker.io/library/redis:7", "redis:7", "redis:7"),
    ("index.docker.io/library/redis:7", "docker.io/library/redis:7", "redis:7", "redis:7"),
    ("index.docker.io/redis", "docker.io/library/redis:latest", "redis", "redis:latest"),
    ("docker.io/x/y:1", "docker.io/x/y:1", "x/y:1", "x/y:1"),
    ("docker.io/library/foo/bar", "docker.io/library/foo/bar:latest", "library/foo/bar", "library/foo/bar:latest"),
    # registry-1.docker.io is where Hub's API answers; Docker keeps it as written in a name.
    ("registry-1.docker.io/library/redis:7", "registry-1.docker.io/library/redis:7",
     "registry-1.docker.io/library/redis:7", "registry-1.docker.io/library/redis:7"),
    ("127.0.0.1:5000/shop/api:1.0", "127.0.0.1:5000/shop/api:1.0", "127.0.0.1:5000/shop/api:1.0", "127.0.0.1:5000/shop/api:1.0"),
    ("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x", "localhost:5000/x:latest"),
    # A digest pins the image: no tag is implied.
    (f"redis@{A}", f"docker.io/library/redis@{A}", f"redis@{A}", f"redis@{A}"),
    (f"host:5000/x@{A}", f"host:5000/x@{A}", f"host:5000/x@{A}", f"host:5000/x@{A}"),
    (f"redis:7@{A}", f"docker.io/library/redis:7@{A}", f"redis:7@{A}", f"redis:7@{A}"),
])
def test_full_short_and_comparable_forms(ref, full, familiar, comparable):
    parts = imageref.split(ref)
    assert (parts.full(), parts.familiar(), parts.comparable()) == (full, familiar, comparable)


@pytest.mark.parametrize(("a", "b", "same"), [
    ("redis", "docker.io/library/redis:latest", True),
    ("redis:7", "index.docker.io/library/redis:7", True),
    ("library/redis:7", "redis:7", True),
    ("x/y:1", "docker.io/x/y:1", True),
    ("redis", "redis:7", False),
    ("redis:7", "registry-1.docker.io/library/redis:7", False),
    ("127.0.0.1:5000/app", "localhost:5000/app", False),
    (f"redis@{A}", f"redis@{B}", False),
    (f"redis@{A}", "redis", False),
])
def test_names_of_one_image_compare_equal(a, b, same):
    assert (imageref.comparable(a) == imageref.comparable(b)) is same


@pytest.mark.parametrize(("ref", "host", "repository", "reference"), [
    ("redis", "docker.io", "library/redis", "latest"),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36"),
    ("index.docker.io/redis", "docker.io", "library/redis", "latest"),
    ("ghcr.io/acme/app:1.0.0", "ghcr.io", "acme/app", "1.0.0"),
    ("127.0.0.1:5000/ns/app:1", "127.0.0.1:5000", "ns/app", "1"),
    (f"127.0.0.1:5000/ns/app:1@{A}", "127.0.0.1:5000", "ns/app", A),
])
def test_what_a_registry_is_asked_for(ref, host, repository, reference):
    parts = imageref.split(ref)
    assert (parts.domain, parts.remote_path, parts.reference) == (host, repository, reference)


@pytest.mark.parametrize(("ref", "repository", "with_tag", "has_tag"), [
    ("127.0.0.1:5000/ns/app:1", "127.0.0.1:5000/ns/app", "127.0.0.1:5000/ns/app:1", True),
    ("127.0.0.1:5000/app@sha256:ab", "127.0.0.1:5000/app", "127.0.0.1:5000/app:latest", False),
    ("127.0.0.1:5000/x/app", "127.0.0.1:5000/x/app", "127.0.0.1:5000/x/app:latest", False),
    ("ghcr.io/acme/app:1.0.0", "ghcr.io/acme/app", "ghcr.io/acme/app:1.0.0", True),
    ("app:latest", "app", "app:latest", True),
    ("lumen-chatbot", "lumen-chatbot", "lumen-chatbot:latest", False),
    ("index.docker.io/library/redis:7", "index.docker.io/library/redis", "index.docker.io/library/redis:7", True),
])
def test_repository_and_tag_as_written(ref, repository, with_tag, has_tag):
    assert imageref.repository_of(ref) == repository
    assert imageref.split(ref).with_tag() == with_tag
    assert imageref.has_tag(ref) is has_tag


@pytest.mark.parametrize("ref", [
    "redis", "redis:7", "library/redis:7", "docker.io/library/redis:7", "index.docker.io/library/redis:7",
    "registry-1.docker.io/library/redis:7", "127.0.0.1:5000/shop/api:1.0", "localhost:5000/x", "localhost/x",
    f"host:5000/x@{A}", f"name:tag@{A}", "my-registry.example.com/team/app:1", "a__b/c-d.e:V1_2.3", "[::1]:5000/app",
])
def test_docker_accepts(ref):
    assert imageref.parse(ref) == imageref.split(ref)


@pytest.mark.parametrize(("ref", "part", "says"), [
    ("Redis", "name", "not a valid image name"),
    ("shop/API:1", "name", "not a valid image name"),
    ("redis:", "name", "not a valid image name"),
    ("redis@", "name", "not a valid image name"),
    ("redis@sha256:ab", "name", "not a valid image name"),
    (f"redis@md5:{'a' * 32}", "name", "not a valid image name"),
    ("redis:-x", "name", "not a valid image name"),
    ("redis:" + "t" * 129, "name", "not a valid image name"),
    ("app\n", "name", "not a valid image name"),
    ("", "name", "not a valid image name"),
    ("host.com/", "name", "not a valid image name"),
    ("a-/app", "name", "not a valid image name"),
    ("user:pw@host/app", "name", "not a valid image name"),
    ("127.0.0.1:99999/app:1", "host", "port 99999 is out of range"),
    ("reg..example.com/app:1", "host", "'reg..example.com' is not a host name"),
    ("my_registry:5000/app", "host", "is not a host name"),
])
def test_docker_refuses(ref, part, says):
    with pytest.raises(ImageRefError, match=says) as caught:
        imageref.parse(ref)
    assert caught.value.part == part


@pytest.mark.parametrize(("host", "problem"), [
    ("127.0.0.1:5000", None),
    ("ghcr.io", None),
    ("[::1]:5000", None),
    ("host:0", "port 0 is out of range (1-65535)"),
    ("user:pw@host", "its host part holds '@'"),
    ("-bad.example", "is not a host name"),
])
def test_host_problems(host, problem):
    found = imageref.host_problem(host)
    assert found is None if problem is None else problem in found


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.1:5000", True), ("127.1.2.3:80", True), ("localhost", True),
    ("localhost:5000", True), ("[::1]:5000", True), ("[::1]", True),
    ("registry.example.com", False), ("10.0.0.1:5000", False), ("localhost.example.com", False), ("127.example", False),
])
def test_loopback_registries(host, loopback):
    assert imageref.is_loopback(host) is loopback


@pytest.mark.parametrize(("ref", "hub"), [
    ("redis", True), ("docker.io/x/y", True), ("index.docker.io/x/y", True), ("registry-1.docker.io/library/redis", True),
    ("ghcr.io/x/y", False), ("127.0.0.1:5000/x", False),
])
def test_docker_hub_under_any_of_its_names(ref, hub):
    assert (imageref.split(ref).domain in imageref.HUB_HOSTS) is hub


@pytest.mark.parametrize(("ref", "repository"), [
    ("127.0.0.1:5000/ns/app:1", "127.0.0.1:5000/ns/app"),
    ("127.0.0.1:5000/app@sha256:ab", "127.0.0.1:5000/app"),
    ("ghcr.io/acme/app:1.0.0", "ghcr.io/acme/app"),
    ("app:latest", "app"),
])
def test_the_repository_a_signature_is_stored_in(ref, repository):
    from polyarch.core.imageref import repository_of

    assert repository_of(ref) == repository
