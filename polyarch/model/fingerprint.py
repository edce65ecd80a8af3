"""Fingerprints of an image's build inputs, so an unchanged image is neither rebuilt nor pushed.

deploy-build stamps each pushed manifest list with an annotation holding the
fingerprint; the next run compares it with the tag already in the registry.
The base image is not part of it: `deploy-build --rebuild` picks up a new one.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

ANNOTATION = "dev.polyarch.inputs"
_SCHEME = "1"
_ALWAYS_SKIPPED = {"__pycache__", ".git", ".pytest_cache"}


def _ignore_rules(context: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """The .dockerignore rules as (is_exception, regex), in file order."""
    ignore = context / ".dockerignore"
    if not ignore.is_file():
        return []
    rules = []
    for raw in ignore.read_text(errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        if pattern in ("", "."):
            continue
        rules.append((exception, re.compile(_pattern_regex(pattern))))
    return rules


def _pattern_regex(pattern: str) -> str:
    """Docker's matching: `*` and `?` stop at '/', `**` spans folders, a folder covers what is in it."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                out.append("(?:.*/)?")
            else:
                out.append(".*")
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "^" + "".join(out) + "(?:/.*)?$"


def _ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """The last rule that matches decides, as in Docker; '!' lines bring files back."""
    ignored = False
    for exception, regex in rules:
        if regex.match(relative):
            ignored = not exception
    return ignored


def context_files(context: Path) -> list[Path]:
    """Files and symlinks in the build context, sorted, without what .dockerignore leaves out.

    As Docker sends a context: symlinks are not followed (their target text
    counts, see `fingerprint`), and FIFOs, sockets and devices are skipped.
    """
    rules = _ignore_rules(context)
    found = []
    for folder, dirs, files in os.walk(context):
        dirs[:] = sorted(d for d in dirs if d not in _ALWAYS_SKIPPED)
        for name in sorted(files + [d for d in dirs if (Path(folder) / d).is_symlink()]):
            path = Path(folder) / name
            if not (path.is_symlink() or stat.S_ISREG(path.lstat().st_mode)):
                continue
            relative = path.relative_to(context).as_posix()
            if not _ignored(relative, rules) and not name.endswith(".pyc"):
                found.append(path)
    return found


def fingerprint(context: Path, dockerfile: Path, stage: str | None, platforms: tuple[str, ...],
                args: tuple[tuple[str, str], ...], contexts: tuple[tuple[str, str | Path], ...] = (),
                dockerfile_inline: str | None = None, options: tuple[tuple[str, str], ...] = ()) -> str:
    """sha256 over everything that decides what the build produces.

    `contexts` are the image's named build contexts (name, folder); their
    files count like the main context's, under their name. `dockerfile_inline`
    stands for the Dockerfile; `options` are the other build settings (labels,
    secret sources, limits), fed only when there are some.
    """
    digest = hashlib.sha256()

    def feed(label: str, value: bytes) -> None:
        digest.update(label.encode() + b"\0" + str(len(value)).encode() + b"\0" + value)

    def feed_files(root: Path) -> None:
        for path in context_files(root):
            feed("path", path.relative_to(root).as_posix().encode())
            if path.is_symlink():
                feed("link", os.readlink(path).encode())
                continue
            feed("mode", oct(path.lstat().st_mode & 0o111).encode())
            feed("data", path.read_bytes())

    feed("scheme", _SCHEME.encode())
    feed("stage", (stage or "").encode())
    feed("platforms", ",".join(platforms).encode())
    for key, value in args:
        feed("arg", f"{key}={value}".encode())
    feed("dockerfile", dockerfile_inline.encode() if dockerfile_inline is not None else dockerfile.read_bytes())
    for key, value in options:
        feed("option", f"{key}={value}".encode())
    feed_files(context)
    # Fed after the main context, so an image without named contexts keeps the
    # fingerprint it had before they existed.
    for name, source in sorted(contexts, key=lambda pair: pair[0]):
        feed("named-context", name.encode())
        folder = Path(source)
        if folder.is_dir():
            feed_files(folder)
        else:
            # Another kind of source (docker-image://, a URL): its name is its input.
            feed("source", str(source).encode())
    return digest.hexdigest()


def image_fingerprints(images, platforms_for) -> dict[str, str]:
    """Each stack image's fingerprint (image name -> hash) for the platforms `platforms_for(image)` gives.

    An image built from a sibling (a `target:` named context) counts the
    sibling's fingerprint, so a changed base image rebuilds what is built from it.
    """
    by_name = {image.name: image for image in images}
    done: dict[str, str] = {}

    def one(image, seen: tuple[str, ...] = ()) -> str:
        if image.name not in done:
            contexts = []
            for key, value in image.contexts:
                sibling = by_name.get(value[len("target:"):]) if value.startswith("target:") else None
                if sibling is not None and sibling.name not in seen:
                    value = f"{value}@{one(sibling, seen + (image.name,))}"
                contexts.append((key, value))
            done[image.name] = fingerprint(image.context, image.dockerfile, image.target, platforms_for(image), image.args,
                                           tuple(contexts), image.spec.dockerfile_inline, _options(image.spec))
        return done[image.name]

    return {image.name: one(image) for image in images}


def _options(spec) -> tuple[tuple[str, str], ...]:
    """The build settings besides Dockerfile, args and contexts that change the image (sources of secrets, not values)."""
    fields = (("labels", spec.labels), ("secrets", spec.secrets), ("ssh", spec.ssh), ("shm_size", spec.shm_size),
              ("ulimits", spec.ulimits))
    return tuple((key, repr(value)) for key, value in fields if value)
