"""Digest files written by publish-build and read by publish-merge: DIR/<image>/<arch>."""

from __future__ import annotations

from pathlib import Path

from polyarch.adapters.files import write_atomic
from polyarch.core.errors import UsageError, VerificationError
from polyarch.core.imageref import DIGEST
from polyarch.core.platforms import arch_name
from polyarch.core.progname import prog

# publish-build's and publish-merge's default folder, and the generated workflows' one.
DEFAULT_FOLDER = "digests"


def digest_path(folder: Path, image: str, platform: str) -> Path:
    return folder / image / arch_name(platform)


def is_digest(text: str) -> bool:
    return bool(DIGEST.fullmatch(text))


def write_digest(folder: Path, image: str, platform: str, digest: str) -> Path:
    """Write one digest file atomically."""
    if not is_digest(digest):
        raise VerificationError(f"buildx reported '{digest}' as the digest of {image} for {platform}, which is not a sha256 digest.")
    path = digest_path(folder, image, platform)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, digest + "\n")
    return path


def _what_instead(path: Path) -> str:
    """What stands where a digest file was expected, in words."""
    if path.is_symlink():
        return "a symlink"
    if path.is_dir():
        return "a folder where a digest file was expected"
    return "missing" if not path.exists() else "not a regular file"


def read_digests(folder: Path, images: tuple[str, ...], platforms: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Every expected digest, or one error naming everything missing or malformed.

    Nothing is returned unless every image has a well-formed digest for every
    platform, so a merge never starts half-done.
    """
    if not folder.is_dir():
        raise UsageError(f"The digest folder {folder} does not exist.", tip=f"Run `{prog()} publish-build` for each platform first.")
    known = set(images)
    unknown = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in known)
    if unknown:
        raise UsageError(
            f"{folder} holds digests for {', '.join(unknown)}, which the stack does not describe "
            f"(its images: {', '.join(images)}).",
            tip="Point --digest-dir at the folder publish-build wrote for this stack.",
        )
    problems: list[str] = []
    found: dict[str, dict[str, str]] = {}
    for image in images:
        for platform in platforms:
            path = digest_path(folder, image, platform)
            if path.is_symlink() or not path.is_file():
                problems.append(f"{image} for {platform}: {path} is " + _what_instead(path))
                continue
            # At most a digest's length is read, and a bad file's content is never echoed.
            with path.open("rb") as handle:
                text = handle.read(200).decode(errors="replace").strip()
            if not is_digest(text):
                problems.append(f"{image} for {platform}: {path} does not hold a sha256:<64 hex> digest")
                continue
            found.setdefault(image, {})[platform] = text
    if problems:
        raise UsageError(
            "Not merging, nothing was pushed: " + "; ".join(problems) + ".",
            tip=f"Run `{prog()} publish-build --platform P` for each missing platform (or fix the file), then merge again.",
        )
    return found
