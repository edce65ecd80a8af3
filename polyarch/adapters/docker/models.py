"""Plain records of what the engine reports: about itself, its builder, images, registry tags and containers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EngineInfo:
    """What the engine says about itself."""

    arch: str
    os_type: str
    version: str
    containerd_store: bool
    # Docker Hub mirrors the engine pulls through.
    mirrors: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuilderInfo:
    """The current buildx builder: its driver and the platforms its nodes can build."""

    name: str
    driver: str
    platforms: tuple[str, ...]


@dataclass(frozen=True)
class ImageIndex:
    """A tag in a registry: its digest and the platforms it serves (attestations left out)."""

    ref: str
    digest: str | None
    platforms: tuple[str, ...]
    annotations: dict[str, str] = field(default_factory=dict)
    # True for one platform's own manifest, False for a manifest list / OCI index.
    single: bool = False
    # A one-platform image's config labels (read through its index when it has one; a list has none of its own).
    labels: dict[str, str] = field(default_factory=dict)
    # True for a one-platform index: one image manifest plus the attestation manifests that refer to it.
    attested: bool = False

    @property
    def one_image(self) -> bool:
        """One platform's image: its own manifest, or an index of it and its attestations (publish-build's push)."""
        return self.single or self.attested


@dataclass(frozen=True)
class LocalImage:
    """What `docker image inspect` says of a local name. With the containerd
    store and a multi-platform name, `platform` is only the one it reports."""

    id: str
    labels: dict[str, str]
    platform: str


@dataclass(frozen=True)
class ContainerState:
    """What compose's labels and the engine say about one container of the project."""

    service: str
    config_hash: str
    image_name: str
    image_id: str
    state: str
    health: str
    exit_code: int
    # "service:condition:..." entries of com.docker.compose.depends_on.
    depends_on: tuple[str, ...] = ()
