"""Docker image references: split, check, normalise, compare and format them.

Docker's rules (its reference grammar): the first path component names a
registry host when it holds '.' or ':', is 'localhost', or has an uppercase
letter; otherwise the image is on Docker Hub. Docker Hub is docker.io
(index.docker.io is its old name), and a one-component repository there lives
under library/. A reference without tag or digest means the tag latest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
# Names Docker rewrites to docker.io when it reads a reference.
_HUB_ALIASES = ("index.docker.io",)
# Hosts that reach Docker Hub's registry (registry-1 is where its API answers;
# Docker keeps that name as written in a local image name).
HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
# A DNS name or a bracketed IPv6 address, optionally with a port.
HOST = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)"
                  r"(?::(?P<port>[0-9]{1,5}))?")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_LOOPBACK = ("localhost", "[::1]")


class ImageRefError(ValueError):
    """A reference Docker would refuse; `part` is 'host' when only its registry host is wrong, else 'name'."""

    def __init__(self, reason: str, part: str = "name") -> None:
        super().__init__(reason)
        self.reason = reason
        self.part = part


@dataclass(frozen=True)
class ImageRef:
    """One image reference; `host` and `path` as written ('' host when none is given)."""

    host: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def domain(self) -> str:
        """The registry as Docker names it: docker.io when none is written or for index.docker.io."""
        if not self.host or self.host in _HUB_ALIASES:
            return DOCKER_HUB
        return self.host

    @property
    def remote_path(self) -> str:
        """The repository path on the registry: redis -> library/redis on Docker Hub."""
        if self.domain == DOCKER_HUB and "/" not in self.path:
            return OFFICIAL_PREFIX + self.path
        return self.path

    @property
    def repository(self) -> str:
        """The name as written without its tag and digest: 127.0.0.1:5000/ns/app:1 -> 127.0.0.1:5000/ns/app."""
        return f"{self.host}/{self.path}" if self.host else self.path

    @property
    def reference(self) -> str:
        """What a registry's manifest URL asks for: the digest when there is one, else the tag (latest by default)."""
        return self.digest or self.tag or DEFAULT_TAG

    def _suffix(self, tag: str) -> str:
        return (f":{tag}" if tag else "") + (f"@{self.digest}" if self.digest else "")

    def full(self) -> str:
        """Docker's full form, as containerd stores names: redis -> docker.io/library/redis:latest."""
        return f"{self.domain}/{self.remote_path}" + self._suffix(self.tag or ("" if self.digest else DEFAULT_TAG))

    def familiar(self) -> str:
        """Docker's short form for display: docker.io/library/redis:7 -> redis:7 (tag and digest as written)."""
        return self._familiar_name() + self._suffix(self.tag)

    def comparable(self) -> str:
        """The short form with the implied tag: names of one image compare equal (redis, docker.io/library/redis:latest)."""
        return self._familiar_name() + self._suffix(self.tag or ("" if self.digest else DEFAULT_TAG))

    def with_tag(self) -> str:
        """The name as written with its tag, latest by default, and no digest (what `docker load` accepts)."""
        return f"{self.repository}:{self.tag or DEFAULT_TAG}"

    def _familiar_name(self) -> str:
        if self.domain != DOCKER_HUB:
            return self.repository
        path = self.remote_path
        short = path[len(OFFICIAL_PREFIX):]
        return short if path.startswith(OFFICIAL_PREFIX) and "/" not in short else path

    def __str__(self) -> str:
        return self.repository + self._suffix(self.tag)


def _names_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost" or component != component.lower()


def split(ref: str) -> ImageRef:
    """Split `ref` into its parts by Docker's rules without checking them (never raises)."""
    name, _, digest = ref.partition("@")
    first, slash, rest = name.partition("/")
    host, path = (first, rest) if slash and _names_host(first) else ("", name)
    head, slash, last = path.rpartition("/")
    tag = ""
    if ":" in last:
        last, _, tag = last.rpartition(":")
        path = head + slash + last
    return ImageRef(host, path, tag, digest)


def parse(ref: str) -> ImageRef:
    """Split `ref` and check every part; ImageRefError says what Docker would refuse."""
    parts = split(ref)
    # Joining the parts again drops an empty tag or digest ('redis:', 'redis@'): Docker refuses those.
    if str(parts) != ref or not REPOSITORY.fullmatch(parts.path) or (parts.tag and not TAG.fullmatch(parts.tag)) \
            or (parts.digest and not DIGEST.fullmatch(parts.digest)):
        raise ImageRefError("not a valid image name (Docker's rule: lowercase repository path, optional :tag)")
    problem = host_problem(parts.host) if parts.host else None
    if problem:
        raise ImageRefError(problem, part="host")
    return parts


def comparable(ref: str) -> str:
    """`ref` in the form that makes two names of one local image equal: redis, library/redis:latest -> redis:latest."""
    return split(ref).comparable()


def repository_of(ref: str) -> str:
    """A reference without its tag or digest, host kept as written."""
    return split(ref).repository


def has_tag(ref: str) -> bool:
    """Whether `ref` names a tag and no digest (what a registry tag listing is about)."""
    return bool(split(ref).tag) and "@" not in ref


def port_problem(port: int | str | None) -> str | None:
    """Why a TCP port number is unusable (None when it is fine, or absent)."""
    if port is None:
        return None
    if not 1 <= int(port) <= 65535:
        return f"port {port} is out of range (1-65535)"
    return None


def host_problem(host: str) -> str | None:
    """Why `host` is not a registry HOST[:PORT] (None when it is one)."""
    if "@" in host:
        # Not echoed: what stands before '@' is usually a password.
        return "its host part holds '@'; a registry reference carries no credentials (log in with `docker login`)"
    match = HOST.fullmatch(host)
    if match is None:
        return f"'{host}' is not a host name (letters, digits, '.' and '-', optionally :PORT)"
    return port_problem(match["port"])


def is_loopback(host: str) -> bool:
    """Whether a registry HOST[:PORT] is this machine (Docker lets plain http reach those)."""
    match = HOST.fullmatch(host)
    name = match["name"] if match else host
    return name in _LOOPBACK or bool(re.fullmatch(r"127(?:\.[0-9]{1,3}){3}", name))
