"""Steps on the engine's images: pull, tag, check, remove, and keep or restore local names."""

from __future__ import annotations

from dataclasses import dataclass

from polyarch.adapters.docker.args import DockerArgs


@dataclass(frozen=True)
class Tag:
    """Give an image in the engine more names."""

    source: str
    targets: tuple[str, ...]

    def summary(self) -> str:
        return f"tag {self.source} as {', '.join(self.targets)}"


@dataclass(frozen=True)
class Pull:
    """Pull one image for one platform and check the architecture it got."""

    ref: str
    platform: str
    only_if_missing: bool = False

    def call(self) -> DockerArgs:
        return DockerArgs(("image", "pull"), (("platform", self.platform), ("quiet", True)), (self.ref,))

    def summary(self) -> str:
        call = self.call()
        return (f"pull {call.operands[0]} for {call.kwargs()['platform']}"
                + (" unless the engine already holds it" if self.only_if_missing else ""))


@dataclass(frozen=True)
class PullVerified(Pull):
    """A Pull of exactly the digest a VerifySignature step of this plan checked for `ref`, tagged `ref`."""

    def summary(self) -> str:
        return f"pull {self.ref} for {self.platform} by the digest whose signature was verified"


@dataclass(frozen=True)
class RemoveImages:
    """Remove the named local images (absent ones are fine), and with `prune_dangling` the engine's dangling ones."""

    refs: tuple[str, ...]
    prune_dangling: bool = True
    # Repositories whose every local tag goes too (published images `prod` pulled).
    repositories: tuple[str, ...] = ()

    def summary(self) -> str:
        text = f"remove images {', '.join(self.refs)}"
        if self.repositories:
            text += f", and every local tag of {', '.join(self.repositories)}"
        return text + (", then prune dangling images" if self.prune_dangling else "")


@dataclass(frozen=True)
class CheckImages:
    """Fail unless every named image is in the engine, runs on `platform`, and has the promised image ID."""

    refs: tuple[str, ...]
    tip: str = ""
    platform: str | None = None
    image_ids: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        text = f"check that {len(self.refs)} images are present"
        if self.platform:
            text += f" for {self.platform}"
        if self.image_ids:
            text += " with the image IDs the bundle names"
        return text + f": {', '.join(self.refs)}"


@dataclass(frozen=True)
class KeepNames:
    """Keep the images some local names point at under backup names, so RestoreNames can put them back."""

    names: tuple[str, ...]
    # When the backups are put back: packaging always restores them, loading only when a check fails.
    restored: str = "after the bundle is written"

    def summary(self) -> str:
        return f"keep what {len(self.names)} local names point at under backup names (put back {self.restored})"


@dataclass(frozen=True)
class RestoreNames:
    """Point the local names back at the images they named before (or remove names that did not exist).

    An image the run put under one of the names goes too once no name is
    left on it. Runs even when a step between KeepNames and this one fails.
    """

    names: tuple[str, ...]
    before: str = "packaging"

    def summary(self) -> str:
        return (f"put {len(self.names)} local names back as they were before {self.before} "
                "(removing names that did not exist, and the images this run left nameless)")


@dataclass(frozen=True)
class DropKeptNames:
    """The new images passed every check: forget the backups KeepNames made (a later failure no longer restores)."""

    names: tuple[str, ...]

    def summary(self) -> str:
        return f"keep the {len(self.names)} loaded images (drop the previous ones' backup names)"
