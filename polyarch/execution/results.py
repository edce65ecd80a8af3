"""What the steps of a run produced, one frozen type per kind of outcome, and the log that holds them.

Tasks and later steps find an earlier outcome by its type (`log.last(BuildResult)`),
never by a step's position in the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, TypeVar

if TYPE_CHECKING:
    from polyarch.adapters.docker.engine import ImageIndex
    from polyarch.planning.plans import Step

R = TypeVar("R")

# The key under which buildx' metadata file gives a pushed image's digest.
DIGEST_KEY = "containerimage.digest"


@dataclass(frozen=True)
class UnchangedTarget:
    """A target not rebuilt because its tag (or its local names) already held the same inputs."""

    # The registry's list when the tag was checked; None for a local build.
    index: ImageIndex | None = None
    # The local image every name of a --load build points at.
    image_id: str | None = None

    @property
    def digest(self) -> str | None:
        return self.index.digest if self.index is not None else None


@dataclass(frozen=True)
class BuildResult:
    """A Build step: buildx' metadata per target it built, and the targets it left as they were."""

    metadata: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    unchanged: Mapping[str, UnchangedTarget] = field(default_factory=dict)

    def digest(self, target: str) -> str | None:
        """The digest the target's image has in the registry (pushed now, or found unchanged)."""
        if target in self.unchanged:
            return self.unchanged[target].digest
        return (self.metadata.get(target) or {}).get(DIGEST_KEY)

    def skipped(self, target: str) -> bool:
        return target in self.unchanged

    def index_of(self, ref: str) -> ImageIndex | None:
        """The registry list read for `ref` while judging it unchanged (nothing pushed it since)."""
        for target in self.unchanged.values():
            if target.index is not None and target.index.ref == ref:
                return target.index
        return None


@dataclass(frozen=True)
class PullResult:
    """A Pull step: the engine holds `ref` for `platform` (`already` when it held it before)."""

    ref: str
    platform: str
    already: bool = False


@dataclass(frozen=True)
class ComposeUpResult:
    """A ComposeUp step: `current` when every container already ran its configuration, so nothing started."""

    current: bool = False


@dataclass(frozen=True)
class ImagesRemoved:
    refs: tuple[str, ...]


@dataclass(frozen=True)
class VerifyResult:
    """A Verify step: the registry's list (or single image) for `ref`, which serves what was asked."""

    index: ImageIndex

    @property
    def ref(self) -> str:
        return self.index.ref

    @property
    def digest(self) -> str:
        return self.index.digest


@dataclass(frozen=True)
class DigestsRecorded:
    """A RecordDigests step: the digest files written, one per image."""

    paths: tuple[Path, ...]


@dataclass(frozen=True)
class CopiedByDigest:
    image: str
    destination: str
    digest: str


@dataclass(frozen=True)
class BundleWritten:
    """A SaveBundle or FetchBundle step: bytes read into the bundle, time it took, the bundle's sha256."""

    raw_bytes: int
    seconds: float
    sha256: str


@dataclass(frozen=True)
class BundleLoaded:
    images: tuple[str, ...]


@dataclass(frozen=True)
class NamesKept:
    """A KeepNames step: each local name's backup name (None where the name did not exist)."""

    backups: Mapping[str, str | None]


@dataclass(frozen=True)
class ImageSigned:
    ref: str
    digest: str


@dataclass(frozen=True)
class SignatureVerified:
    """A VerifySignature step: the digest the signature of `ref` covers."""

    ref: str
    digest: str


@dataclass(frozen=True)
class LogEntry:
    number: int
    step: Step
    result: object | None


class RunLog:
    """Every step a run carried out, in order, with its result (None for a step that produces nothing)."""

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []

    def record(self, step: Step, result: object | None) -> None:
        self.entries.append(LogEntry(len(self.entries) + 1, step, result))

    def all(self, kind: type[R], where: Callable[[R], bool] | None = None) -> tuple[R, ...]:
        """Every result of this type (that `where` accepts), in the order the steps ran."""
        return tuple(e.result for e in self.entries
                     if isinstance(e.result, kind) and (where is None or where(e.result)))

    def first(self, kind: type[R], where: Callable[[R], bool] | None = None) -> R | None:
        found = self.all(kind, where)
        return found[0] if found else None

    def last(self, kind: type[R], where: Callable[[R], bool] | None = None) -> R | None:
        found = self.all(kind, where)
        return found[-1] if found else None

    def __len__(self) -> int:
        return len(self.entries)
