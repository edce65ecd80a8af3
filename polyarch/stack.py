"""The stack description: load, validate and query `stack.toml`.

The description is the single source of what the stack is: images and their
build contexts, which compose services share an image, third-party images,
compose files per mode and where images are published. Tasks never hard-code
any of it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyarch.errors import PlatformError, StackError
from polyarch.platforms import parse_platforms

DEFAULT_FILE = "stack.toml"
ENV_VAR = "POLYARCH_STACK"


@dataclass(frozen=True)
class Image:
    """A first-party image built from one Dockerfile, run as one or more services."""

    name: str
    context: Path
    dockerfile: Path
    stages: dict[str, str]
    services: tuple[str, ...]
    repository: str
    build_args: dict[str, str] = field(default_factory=dict)
    # Named build contexts: name -> folder, for `COPY --from=NAME` in the Dockerfile.
    contexts: dict[str, Path] = field(default_factory=dict)

    def stage(self, kind: str) -> str:
        return self.stages[kind]


@dataclass(frozen=True)
class ThirdParty:
    """An image the stack uses as published by someone else, pinned by tag."""

    service: str
    image: str


@dataclass(frozen=True)
class Mode:
    """How the stack runs in one mode: compose files, stage built, local tag."""

    name: str
    files: tuple[Path, ...]
    stage: str
    tag: str


@dataclass(frozen=True)
class Stack:
    """A validated stack description."""

    source: Path
    name: str
    platforms: tuple[str, ...]
    registry: str
    env_file: Path
    env_example: Path
    secrets: tuple[str, ...]
    required: tuple[str, ...]
    urls: dict[str, tuple[str, str]]
    images: tuple[Image, ...]
    third_party: tuple[ThirdParty, ...]
    modes: dict[str, Mode]
    values_file: Path | None = None

    @property
    def root(self) -> Path:
        return self.source.parent

    def image(self, name: str) -> Image:
        for image in self.images:
            if image.name == name:
                return image
        raise StackError(f"{self.source}: there is no image named '{name}' (images: {', '.join(i.name for i in self.images)}).")

    def mode(self, name: str) -> Mode:
        if name not in self.modes:
            raise StackError(
                f"{self.source}: the stack has no mode '{name}' (modes: {', '.join(self.modes)}).",
                tip=f"Add a [modes.{name}] table naming its compose files.",
            )
        return self.modes[name]

    def local_tag(self, service: str, tag: str) -> str:
        """The local image tag a service runs from, e.g. 'polyarch-api:dev'."""
        return f"{self.name}-{service}:{tag}"

    def local_tags(self, image: Image, tag: str) -> tuple[str, ...]:
        return tuple(self.local_tag(service, tag) for service in image.services)

    def all_local_tags(self, tag: str) -> tuple[str, ...]:
        return tuple(t for image in self.images for t in self.local_tags(image, tag))

    def published_ref(self, image: Image, registry: str, tag: str) -> str:
        return f"{registry.rstrip('/')}/{image.repository}:{tag}"


def find_stack_file(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path:
    """Locate the description: --stack, then $POLYARCH_STACK, then stack.toml here or above."""
    chosen = explicit or os.environ.get(ENV_VAR)
    if chosen:
        path = Path(chosen).expanduser()
        if path.is_dir():
            path = path / DEFAULT_FILE
        if not path.is_file():
            origin = "--stack" if explicit else f"${ENV_VAR}"
            raise StackError(f"{origin} points at {path}, which does not exist.",
                             tip="Give the path of a stack description file (stack.toml).")
        return path.resolve()
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_FILE
        if candidate.is_file():
            return candidate
    raise StackError(
        f"No {DEFAULT_FILE} in {start} or any folder above it.",
        tip=f"Run polyarch from the project folder, or pass --stack PATH or set {ENV_VAR}.",
    )


def load_stack(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Stack:
    """Find, read and validate the stack description."""
    path = find_stack_file(explicit, cwd)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise StackError(f"{path} is not valid TOML: {exc}.") from None
    return parse_stack(data, path)


class _Reader:
    """Reads typed values out of the TOML data, naming file and key on errors."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> StackError:
        return StackError(f"{self.source}: {key} {problem}.")

    def table(self, data: dict[str, Any], key: str, where: str, required: bool = True) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(f"{where}{key}", "is missing (expected a table)")
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"{where}{key}", f"must be a table, not {type(value).__name__}")
        return value

    def string(self, data: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
        value = data.get(key, default)
        if value is None:
            raise self.fail(f"{where}{key}", "is missing (expected a string)")
        if not isinstance(value, str):
            raise self.fail(f"{where}{key}", f"must be a string, not {type(value).__name__}")
        return value

    def strings(self, data: dict[str, Any], key: str, where: str, default: list[str] | None = None) -> tuple[str, ...]:
        value = data.get(key, default)
        if value is None:
            raise self.fail(f"{where}{key}", "is missing (expected a list of strings)")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where}{key}", "must be a list of strings")
        return tuple(value)

    def string_map(self, data: dict[str, Any], key: str, where: str) -> dict[str, str]:
        value = self.table(data, key, where, required=False)
        for k, v in value.items():
            if not isinstance(v, (str, int, float, bool)):
                raise self.fail(f"{where}{key}.{k}", "must be a string")
        return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}

    def folder_map(self, data: dict[str, Any], key: str, where: str, root: Path) -> dict[str, Path]:
        """An optional table of name -> folder (relative to `root`); names are lowercase identifiers."""
        folders = {}
        for name, value in self.table(data, key, where, required=False).items():
            if not _CONTEXT_NAME.fullmatch(name):
                raise self.fail(f"{where}{key}.{name}", "is not a valid name (use a lowercase identifier: a-z, 0-9 and '_', not starting with a digit)")
            if not isinstance(value, str):
                raise self.fail(f"{where}{key}.{name}", f"must be a string path, not {type(value).__name__}")
            folder = root / value
            if not folder.is_dir():
                raise self.fail(f"{where}{key}.{name}", f"points at {folder}, which is not a folder")
            folders[name] = folder
        return folders


_KNOWN_TOP = {"stack", "images", "third_party", "modes"}
# Compose's rule for project names (ASCII only, starting with a letter or digit).
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
# Named build contexts are used like stage names (`COPY --from=NAME`), and
# BuildKit lower-cases stage names, so context names are kept lowercase.
_CONTEXT_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def parse_stack(data: dict[str, Any], source: Path) -> Stack:
    """Validate parsed TOML data and build a Stack. Pure: reads no files but the paths it checks."""
    r = _Reader(source)
    root = source.parent
    unknown = set(data) - _KNOWN_TOP
    if unknown:
        raise r.fail(", ".join(sorted(unknown)), f"is not a known table (known: {', '.join(sorted(_KNOWN_TOP))})")

    top = r.table(data, "stack", "")
    name = r.string(top, "name", "stack.")
    if not _NAME.fullmatch(name):
        raise r.fail("stack.name", f"'{name}' must be lowercase letters, digits, '-' or '_'")
    try:
        platforms = parse_platforms(r.strings(top, "platforms", "stack.", ["linux/amd64", "linux/arm64"]), "stack.platforms")
    except PlatformError as exc:
        raise StackError(f"{source}: {exc.message}") from None
    registry = r.string(top, "registry", "stack.", "")
    urls: dict[str, tuple[str, str]] = {}
    for label, pair in r.table(top, "urls", "stack.", required=False).items():
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise r.fail(f"stack.urls.{label}", "must be [ENV_KEY, default URL]")
        urls[label] = (pair[0], pair[1])
    values = top.get("values_file")
    if values is not None and not isinstance(values, str):
        raise r.fail("stack.values_file", "must be a string path")

    images = []
    services_seen: dict[str, str] = {}
    for image_name, spec in r.table(data, "images", "").items():
        where = f"images.{image_name}."
        if not isinstance(spec, dict):
            raise r.fail(f"images.{image_name}", "must be a table")
        context = root / r.string(spec, "context", where)
        if not context.is_dir():
            raise r.fail(f"{where}context", f"points at {context}, which is not a folder")
        dockerfile = context / r.string(spec, "dockerfile", where, "Dockerfile")
        if not dockerfile.is_file():
            raise r.fail(f"{where}dockerfile", f"points at {dockerfile}, which does not exist")
        stages = r.string_map(spec, "stages", where) or {"dev": "dev", "prod": "prod"}
        services = r.strings(spec, "services", where)
        if not services:
            raise r.fail(f"{where}services", "must name at least one compose service")
        for service in services:
            if service in services_seen:
                raise r.fail(f"{where}services", f"names '{service}', which image '{services_seen[service]}' already runs")
            services_seen[service] = image_name
        images.append(Image(
            name=image_name,
            context=context,
            dockerfile=dockerfile,
            stages=stages,
            services=services,
            repository=r.string(spec, "repository", where, image_name),
            build_args=r.string_map(spec, "build_args", where),
            contexts=r.folder_map(spec, "contexts", where, root),
        ))
    if not images:
        raise r.fail("images", "must describe at least one image")

    third_party = []
    for service, image in r.table(data, "third_party", "", required=False).items():
        if not isinstance(image, str):
            raise r.fail(f"third_party.{service}", "must be an image reference string")
        if ":" not in image.rsplit("/", 1)[-1] and "@" not in image:
            raise r.fail(f"third_party.{service}", f"'{image}' must be pinned by tag or digest")
        third_party.append(ThirdParty(service, image))

    modes = {}
    for mode_name, spec in r.table(data, "modes", "").items():
        where = f"modes.{mode_name}."
        if not isinstance(spec, dict):
            raise r.fail(f"modes.{mode_name}", "must be a table")
        files = tuple(root / f for f in r.strings(spec, "files", where))
        for f in files:
            if not f.is_file():
                raise r.fail(f"{where}files", f"names {f}, which does not exist")
        stage = r.string(spec, "stage", where)
        for image in images:
            if stage not in image.stages:
                raise r.fail(f"{where}stage", f"is '{stage}', but image '{image.name}' has no such stage")
        modes[mode_name] = Mode(mode_name, files, stage, r.string(spec, "tag", where, "latest"))

    return Stack(
        source=source,
        name=name,
        platforms=platforms,
        registry=registry,
        env_file=root / r.string(top, "env_file", "stack.", ".env"),
        env_example=root / r.string(top, "env_example", "stack.", ".env.example"),
        secrets=r.strings(top, "secrets", "stack.", []),
        required=r.strings(top, "required", "stack.", []),
        urls=urls,
        images=tuple(images),
        third_party=tuple(third_party),
        modes=modes,
        values_file=(root / values) if values else None,
    )
