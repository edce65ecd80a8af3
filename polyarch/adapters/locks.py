"""Per-stack locks, so two polyarch runs never change one stack at the same time.

A lock is an advisory `flock` on a file in the user's state folder
(platformdirs), named after the project folder. The kernel drops it when
the process ends, so a killed run never leaves a stale lock. The second run
says who holds the lock and waits for it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

from polyarch.core.errors import UsageError

_held: dict[Path, int] = {}


def lock_path(root: Path, name: str) -> Path:
    from platformdirs import user_state_path

    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return user_state_path("polyarch") / "locks" / f"{name}-{digest}.lock"


def acquire(path: Path, holder: str, on_wait: Callable[[str], None]) -> None:
    """Take the lock at `path` (waiting if another process holds it) until `release_all`.

    A task that runs several plans (restart: down, then up) takes it once.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock; runs are not serialised there.
        return
    if path in _held:
        return
    fd = _open(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another polyarch run"
            on_wait(other)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    _held[path] = fd


def _open(path: Path) -> int:
    """The lock file, opened for writing; a clear error when the state folder cannot hold it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise UsageError(
            f"Cannot create the stack's lock file {path}: {exc.strerror or exc}; nothing was changed.",
            tip=f"Make {path.parent} a writable folder (remove whatever stands at {path} if it is not a file), "
                "or point $XDG_STATE_HOME at a writable folder.") from None


def release_all() -> None:
    """Drop every lock this process took (at the end of a task)."""
    while _held:
        _path, fd = _held.popitem()
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)
