"""The stack's `.env` file: read it, fill secrets, write it back safely.

Writes go to a temporary file in the same folder with mode 0600 and are
renamed over the old file only when complete, so an interrupted run leaves
the previous `.env` as it was. Secret values are never returned in messages.
"""

from __future__ import annotations

import re
import secrets as _secrets
from dataclasses import dataclass
from pathlib import Path

from polyarch.adapters.files import write_atomic
from polyarch.core.errors import EnvFileError
from polyarch.core.progname import prog

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")


def _unquote(raw: str) -> str:
    value = raw.strip()
    if len(value) >= 2 and value[0] in "'\"":
        # A quoted value followed by a comment: KEY="value" # note
        end = value.find(value[0], 1)
        if end != -1 and value[end + 1:].lstrip().startswith("#"):
            return value[1:end]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    if " #" in value:
        value = value.split(" #", 1)[0].rstrip()
    return value


def parse_env(text: str) -> dict[str, str]:
    """Parse KEY=value lines; comments and blank lines are ignored, the last value wins."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match:
            values[match.group(1)] = _unquote(match.group(2))
    return values


def read_env(path: Path) -> dict[str, str]:
    """Values in an env file; an absent file reads as empty."""
    if not path.exists():
        return {}
    if not path.is_file():
        raise EnvFileError(f"{path} is not a file.", tip=f"Remove or rename it; `{prog()} init` then creates the env file.")
    try:
        return parse_env(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise EnvFileError(f"{path} is not UTF-8 text.", tip="Save it as UTF-8.") from None
    except OSError as exc:
        raise EnvFileError(f"Cannot read {path}: {exc.strerror}.") from None


def set_values(text: str, updates: dict[str, str]) -> str:
    """Replace each KEY=... line named in `updates`, appending keys not present.

    Comments, order and every other line are kept as they are.
    """
    remaining = dict(updates)
    lines = text.splitlines()
    out = []
    for line in lines:
        match = None if line.lstrip().startswith("#") else _LINE.match(line)
        if match and match.group(1) in updates:
            # Every line for the key changes: parse_env lets the last one win.
            key = match.group(1)
            out.append(f"{key}={updates[key]}")
            remaining.pop(key, None)
        else:
            out.append(line)
    out.extend(f"{key}={value}" for key, value in remaining.items())
    return "\n".join(out) + "\n"


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, atomically."""
    write_atomic(path, text, mode=0o600)


def new_secret() -> str:
    """A fresh 32-byte random secret, hex encoded."""
    return _secrets.token_hex(32)


@dataclass(frozen=True)
class InitResult:
    """What `init_env` did, without any secret value."""

    created: bool
    copied_from: Path | None
    filled: tuple[str, ...]
    kept: tuple[str, ...]


def init_env(env_file: Path, example: Path, secret_keys: tuple[str, ...], force: bool = False) -> InitResult:
    """Create `.env` from the example when missing and fill empty secret keys.

    Keys the user already set are kept unless `force` is true.
    """
    return apply_init(env_file, preview_init(env_file, example, secret_keys, force))


def preview_init(env_file: Path, example: Path, secret_keys: tuple[str, ...], force: bool = False) -> InitResult:
    """What `init` would do, read without writing anything (a refused `.env` raises here)."""
    created = not env_file.exists()
    copied_from = None
    if created:
        text = _read_text(example) if example.is_file() else ""
        copied_from = example if example.is_file() else None
    else:
        read_env(env_file)  # refuses a folder or a file that is not UTF-8, naming it
        text = _read_text(env_file)
    current = parse_env(text)
    to_fill = tuple(k for k in secret_keys if force or not current.get(k))
    kept = tuple(k for k in secret_keys if k not in to_fill)
    return InitResult(created, copied_from, to_fill, kept)


def init_needs_writing(env_file: Path, result: InitResult) -> bool:
    """Does `result` change the file: a new file, secrets to fill, or a mode other than 0600?"""
    return bool(result.filled or result.created or (env_file.stat().st_mode & 0o777) != 0o600)


def apply_init(env_file: Path, result: InitResult) -> InitResult:
    """Carry out a `preview_init` result: write the file, mode 0600, with fresh secrets for `result.filled`."""
    if result.created and env_file.exists():
        # Another run (a second init or dev waiting on the stack's lock) created it after this
        # plan was made: its secrets may be in use already, so keep them and fill only what is empty.
        current = parse_env(_read_text(env_file))
        result = InitResult(False, None, tuple(k for k in result.filled if not current.get(k)),
                            tuple(k for k in result.filled if current.get(k)) + result.kept)
    if not init_needs_writing(env_file, result):
        return result
    if result.created:
        text = _read_text(result.copied_from) if result.copied_from else ""
    else:
        text = _read_text(env_file)
    try:
        write_private(env_file, set_values(text, {k: new_secret() for k in result.filled}))
    except OSError as exc:
        raise EnvFileError(f"Could not write {env_file}: {exc.strerror}; it was left as it was.",
                           tip="Free some disk space or fix the folder's permissions, then run init again.") from None
    return result


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise EnvFileError(f"{path} is not UTF-8 text.", tip="Save it as UTF-8.") from None


def missing_required(env_file: Path, required: tuple[str, ...]) -> tuple[str, ...]:
    """Required keys that are absent or empty in the env file."""
    values = read_env(env_file)
    return tuple(k for k in required if not values.get(k))
