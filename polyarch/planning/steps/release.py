"""Release steps on a registry: verify, merge into manifest lists, copy, sign, record digests, update values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Verify:
    """Inspect a pushed tag and fail unless it lists every platform.

    With `single`, the ref must be one image of exactly that platform (a
    merge source): its own manifest, or an index of it and its attestation
    manifests, not a list of platforms; and its config must carry `labels`.
    """

    ref: str
    platforms: tuple[str, ...]
    single: bool = False
    # Image-config labels a single image must carry: those publish-build stamped (the image it built).
    labels: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        if self.single:
            of = f" labelled {', '.join(f'{k}={v}' for k, v in self.labels)}" if self.labels else ""
            return f"verify {self.ref} is a single {', '.join(self.platforms)} image (with or without attestations){of}"
        return f"verify {self.ref} lists {', '.join(self.platforms)}"


@dataclass(frozen=True)
class CreateManifest:
    """Create a manifest list under each tag from per-platform digests."""

    tags: tuple[str, ...]
    sources: tuple[str, ...]
    annotations: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        text = f"create manifest list {', '.join(self.tags)} from {', '.join(self.sources)}"
        return text + (f" with {len(self.annotations)} OCI annotations" if self.annotations else "")


@dataclass(frozen=True)
class UpdateValues:
    """Write the published tag into the Helm values file (`image.tag`), and pushed refs into other keys."""

    path: Path
    tag: str
    refs: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        extra = "".join(f", {key} = {ref}" for key, ref in self.refs)
        return f"write image.tag = {self.tag}{extra} into {self.path}"


@dataclass(frozen=True)
class SignImage:
    """Sign, with cosign, the manifest list a tag points at, by its digest (read when the tag was verified)."""

    ref: str
    key: Path | None = None
    keyless: bool = False

    def summary(self) -> str:
        how = f"key {self.key}, no transparency log" if self.key else "keyless: OIDC identity, transparency log"
        return f"sign {self.ref} by digest with cosign ({how})"


@dataclass(frozen=True)
class VerifySignature:
    """Check a tag's cosign signature with a public key; a following PullVerified of that tag pulls exactly the checked digest."""

    ref: str
    public_key: Path

    def summary(self) -> str:
        return f"verify the cosign signature of {self.ref} with {self.public_key} (refused unless it matches)"


@dataclass(frozen=True)
class RecordDigests:
    """Write the digest the preceding build pushed, one file per image: DIR/<image>/<arch>."""

    folder: Path
    platform: str
    images: tuple[str, ...]

    def summary(self) -> str:
        return f"write {', '.join(self.images)} digests for {self.platform} under {self.folder}"


@dataclass(frozen=True)
class CopyByDigest:
    """Copy the image the preceding build pushed from a staging repository, by digest, without a tag."""

    image: str
    source: str
    destination: str

    def summary(self) -> str:
        return f"copy {self.image} from {self.source} to {self.destination}@<digest> (no tag), then delete the staging copy"
