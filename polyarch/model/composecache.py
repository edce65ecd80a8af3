"""A cache of `docker compose config` readings, so a re-run (or a dry run) does not start compose again.

A reading is reused only when everything compose reads is the same: the
compose CLI (docker and its plugin, by path, size and time), the project
name, every compose file's content and every file those files name (an
`include`, `extends` or `env_file`, a Dockerfile: any word that names an
existing file counts), the env file's content, and the value of every
environment variable the files or the env file mention, plus all COMPOSE_*
and DOCKER_* ones. Entries live under the user cache dir (platformdirs),
mode 0600 (they hold interpolated `.env` values), written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable

from polyarch.adapters.docker.compose import compose_config_reader as engine_reader
from polyarch.adapters.docker.errors import ComposeRefused
from polyarch.adapters.files import write_atomic
from polyarch.core.progname import prog
from polyarch.model.compose_errors import ComposeProject, compose_config_error

# Bumped when the key or the stored form changes.
FORMAT = "1"
# Oldest entries beyond this many are removed when a new one is written.
KEEP = 64
# Named files bigger than this are keyed by size and time, not read.
BIG = 1 << 20
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_WORD = re.compile(r"[^\s'\"\[\]{},=]+")
_PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
                "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")

Reader = Callable[[tuple[Path, ...], "str | None"], dict[str, Any]]


def cache_folder() -> Path:
    """Where readings are kept: <user cache dir>/polyarch/compose-config."""
    from platformdirs import user_cache_path

    return user_cache_path("polyarch") / "compose-config"


def _stat_line(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return f"{path}:-"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def _tool_identity() -> list[str]:
    """The docker CLI and the compose plugins it may run: a new version means a new key."""
    docker = shutil.which("docker") or "docker"
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    dirs = (str(config / "cli-plugins"), *_PLUGIN_DIRS)
    return [_stat_line(Path(docker))] + [_stat_line(Path(d) / "docker-compose") for d in dirs]


def _named_files(text: str, folder: Path) -> list[Path]:
    """Existing files a compose (or env) file's words name, relative to its folder."""
    found = []
    for word in set(_WORD.findall(text)):
        word = word.rstrip(":")
        if not word or "$" in word or len(word) > 4096:
            continue
        candidate = Path(word) if os.path.isabs(word) else folder / word
        try:
            if candidate.is_file():
                found.append(candidate)
        except OSError:
            continue
    return sorted(found)


def reading_key(files: tuple[Path, ...], project: str | None, env_file: Path) -> str:
    """The key of one reading: a hash of everything that can change what compose prints."""
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        for part in parts:
            digest.update(str(part).encode("utf-8", "surrogateescape") + b"\0")

    add(FORMAT, project, env_file, *files, *_tool_identity())
    seen: set[Path] = set()
    texts: list[str] = []
    todo = [*files, env_file, *(f.parent / ".env" for f in files[:1])]
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        try:
            if path not in files and path.stat().st_size > BIG:
                # A data file a volume names, say: compose does not read it, its size and time are enough.
                add(_stat_line(path))
                continue
            data = path.read_bytes()
        except OSError:
            add(path, "missing")
            continue
        add(path, hashlib.sha256(data).hexdigest())
        text = data.decode("utf-8", "replace")
        texts.append(text)
        if path.suffix in (".yaml", ".yml") or path in files:
            todo += _named_files(text, path.parent)
    names = {n for text in texts for n in _VARIABLE.findall(text)}
    names |= {n for n in os.environ if n.startswith(("COMPOSE_", "DOCKER_"))}
    for name in sorted(names):
        add(name, os.environ.get(name, "\0unset"))
    return digest.hexdigest()


def compose_config_reader(root: Path, env_file: Path | None, env_example: Path | None = None,
                          all_profiles: bool = False, interpolate: bool = True) -> Reader:
    """A function that returns compose's resolved config (as JSON data) for some files; no cache.

    The engine module runs `compose config` (polyarch.adapters.docker.compose);
    what compose refuses in the files becomes a StackError (exit 2) naming the
    file and the fix. `env_example` is named in the tip for a missing variable.
    """
    read_config = engine_reader(env_file, all_profiles=all_profiles, interpolate=interpolate)

    def read(files: tuple[Path, ...], project: str | None) -> dict[str, Any]:
        try:
            return read_config(files, project)
        except ComposeRefused as refused:
            where = ComposeProject(root, files, env_file or root / ".env", env_example)
            raise compose_config_error(refused.output, where, prog()) from None

    return read


def cached_reader(root: Path, env_file: Path | None, env_example: Path | None = None, real: Callable[[], Reader] | None = None,
                  folder: Path | None = None, interpolate: bool = True) -> Reader:
    """A config reader that answers from the cache when the key matches, else asks compose and stores the answer.

    `real` makes the uncached reader (by default compose_config_reader's, created
    only on the first miss, so a warm run never imports python-on-whales).
    """
    made: list[Reader] = []

    def read(files: tuple[Path, ...], project: str | None) -> dict[str, Any]:
        where = folder or cache_folder()
        # A reading without interpolation (publishing) is another reading of the same files.
        key = reading_key(files, project, env_file or root / ".env") + ("" if interpolate else "-raw")
        entry = where / f"{key}.json"
        try:
            return json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        if not made:
            if real is None:
                made.append(compose_config_reader(root, env_file, env_example, interpolate=interpolate))
            else:
                made.append(real())
        config = made[0](files, project)
        _store(entry, config)
        return config

    return read


def _store(entry: Path, config: dict[str, Any]) -> None:
    """Write one reading atomically, readable only by its owner; a cache that cannot be written is no error."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(entry, json.dumps(config), mode=0o600)
        entries = sorted(entry.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-KEEP]:
            old.unlink(missing_ok=True)
    except OSError:
        pass

