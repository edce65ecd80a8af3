"""Write a file so that readers see the old content or the new, never a half-written one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from polyarch.core.errors import UsageError


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write `text` to a temporary file beside `path`, sync it, and rename it over `path`.

    `mode` defaults to the old file's mode (0644 for a new file). A failure
    leaves the old file as it was and no temporary file behind.
    """
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = -1
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd != -1:
            os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise


def writable_folder(folder: Path, flag: str, create: bool) -> Path:
    """Check, before any side effect, that files can be written into `folder`.

    With `create` the folder (and its parents) is made when missing; a dry
    run passes False and only checks that the nearest existing parent is
    writable. Raises UsageError naming the flag.
    """
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{flag} {folder} is not a folder.", tip=f"Pass a folder to {flag}.")
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"Cannot create {flag} {folder}: {exc.strerror}.", tip=f"Pass another {flag}.") from None
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {folder} is not writable" + ("" if existing == folder else f" ({existing} is not)") + ".",
                         tip=f"Pass another {flag}.")
    return folder
