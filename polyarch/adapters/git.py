"""Read the git state a tag is derived from (short SHA, dirty or not)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GitState:
    """What the caller read from git: short SHA (None outside git) and whether the tree is dirty."""

    short_sha: str | None
    dirty: bool


@dataclass(frozen=True)
class SourceInfo:
    """What git says about the commit a release is built from (read by the caller)."""

    revision: str | None
    commit_time: int | None
    remote: str | None



def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def repo_root(root: Path) -> Path | None:
    """The top folder of the git work tree `root` is in (None outside git)."""
    top = _git(root, "rev-parse", "--show-toplevel")
    return Path(top) if top else None


def git_state(root: Path, ignore: tuple[Path, ...] = ()) -> GitState:
    """Short SHA of HEAD as `git rev-parse --short` prints it (None outside git) and dirtiness.

    Files in `ignore` (ones polyarch writes itself, like the values file) do not count as changes.
    """
    sha = _git(root, "rev-parse", "--short", "HEAD")
    if not sha:
        return GitState(None, False)
    args = ["status", "--porcelain", "--untracked-files=no", "--", "."]
    for path in ignore:
        try:
            args.append(f":(exclude){path.resolve().relative_to(root.resolve()).as_posix()}")
        except ValueError:
            continue
    status = _git(root, *args)
    return GitState(sha, bool(status))


def current_ref(root: Path) -> str:
    """The checked-out ref: refs/tags/<tag> on an exact tag, else refs/heads/<branch>."""
    tag = _git(root, "describe", "--tags", "--exact-match", "HEAD")
    if tag:
        return f"refs/tags/{tag}"
    branch = _git(root, "symbolic-ref", "-q", "HEAD")
    return branch or "HEAD"


def source_info(root: Path) -> SourceInfo:
    """Full SHA, commit time (epoch seconds) and the origin remote of HEAD (None where git has none)."""
    revision = _git(root, "rev-parse", "HEAD")
    when = _git(root, "show", "-s", "--format=%ct", "HEAD") if revision else None
    remote = _git(root, "remote", "get-url", "origin")
    return SourceInfo(revision, int(when) if when and when.isdigit() else None, remote)


def is_tracked(path: Path) -> bool:
    """Whether git tracks `path`, i.e. a fresh clone has it."""
    return _git(path.parent if path.parent.is_dir() else Path.cwd(), "ls-files", "--error-unmatch", "--", str(path)) is not None
