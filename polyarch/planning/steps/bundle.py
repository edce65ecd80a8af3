"""Airtight bundle steps: write one (saved by the engine or fetched from registries), sign, check and load it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BundleSignature:
    """A bundle's cosign signature (`sign-blob`, offline), written beside it and published with it."""

    key: Path
    path: Path


@dataclass(frozen=True)
class SaveBundle:
    """`docker save` every image in one call, gzip it with all cores, write checksum and manifest."""

    refs: tuple[str, ...]
    bundle: Path
    checksum: Path
    stack: str
    version: str
    platform: str
    level: int
    signature: BundleSignature | None = None

    def summary(self) -> str:
        return (f"save {len(self.refs)} images in one docker save, gzip -{self.level} on all cores into "
                f"{self.bundle} (+ {self.checksum.name}{_signed(self.signature)})")


@dataclass(frozen=True)
class FetchBundle:
    """Write a bundle from blobs registries hold: manifests, configs and layers over HTTP, no engine export.

    `images` are (local names, registry ref) pairs.
    """

    images: tuple[tuple[tuple[str, ...], str], ...]
    bundle: Path
    checksum: Path
    stack: str
    version: str
    platform: str
    level: int
    signature: BundleSignature | None = None

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(name for names, _ in self.images for name in names)

    def summary(self) -> str:
        sources = ", ".join(ref for _, ref in self.images)
        return (f"read {len(self.images)} images for {self.platform} from their registries ({sources}) and write them, "
                f"digests checked, into {self.bundle} (+ {self.checksum.name}{_signed(self.signature)}); "
                "nothing is built, pulled or exported by the engine")


def _signed(signature: BundleSignature | None) -> str:
    return f", {signature.path.name} signed with {signature.key} by cosign sign-blob" if signature else ""


@dataclass(frozen=True)
class VerifyBundleSignature:
    """Check a bundle's cosign signature (`<bundle>.sig`) with a public key, offline, before anything is loaded."""

    bundle: Path
    signature: Path
    public_key: Path

    def summary(self) -> str:
        return f"verify {self.bundle.name} against {self.signature.name} with {self.public_key}, offline, before loading"


@dataclass(frozen=True)
class LoadBundle:
    """`docker load` a bundle while its sha256 (when a checksum file gives one) is computed alongside."""

    bundle: Path
    sha256: str | None = None

    def summary(self) -> str:
        return f"docker load < {self.bundle}" + (", checking its sha256 at the same time" if self.sha256 else "")
