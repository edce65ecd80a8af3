"""The stack: what each mode's compose files build and run, plus polyarch.toml.

Compose is the source of truth; `polyarch.toml` adds only what compose cannot say.
These are the validated types (reading and assembling them: polyarch.model.loading
and polyarch.model.assembly).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from polyarch.core.errors import StackError
from polyarch.core.suggest import did_you_mean
from polyarch.model.buildspec import BuildSpec
from polyarch.model.compose_builds import raw_builds
from polyarch.model.project import Project
from polyarch.model.settings import Settings

DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")
ROLES = ("dev", "prod", "airtight")
# Zero-config modes of a project in compose's override shape (else one "default" mode).
ZERO_CONFIG_ROLES = {"dev": "dev", "prod": "prod", "airtight": "prod"}
# What each task group uses a mode for, for messages.
ROLE_TASKS = {"dev": "dev, build, rebuild, restart", "prod": "prod, prod-build, deploy-build, publish-*",
              "airtight": "package-airtight, prod-airtight"}


@dataclass(frozen=True)
class ImageBuild:
    """One first-party image as a mode builds it, and the local names it runs under."""

    name: str
    context: Path
    dockerfile: Path
    target: str | None
    args: tuple[tuple[str, str], ...]
    contexts: tuple[tuple[str, str], ...]
    services: tuple[str, ...]
    local_names: tuple[str, ...]
    repository: str
    # Where each build arg comes from, for the plan's text (name, source); compose's own args are not listed.
    arg_sources: tuple[tuple[str, str], ...] = ()
    # The rest of the compose build section (secrets, labels, platforms, inline Dockerfile...).
    spec: BuildSpec = field(default=BuildSpec())

    def needs(self) -> tuple[str, ...]:
        """The sibling images (bake names) this one is built from, through `target:` named contexts."""
        return tuple(v[len("target:"):] for _, v in self.contexts if v.startswith("target:"))


@dataclass(frozen=True)
class Mode:
    """How the stack runs in one mode: compose files, first-party builds, third-party images."""

    name: str
    files: tuple[Path, ...]
    images: tuple[ImageBuild, ...]
    third_party: tuple[str, ...]
    services: tuple[str, ...]
    # Read without interpolation (publishing): (service, variable, message) of
    # each `${VAR:?message}` a build section or image name needs and nothing
    # sets, and (service, variable) of each plain `${VAR}` that was unset.
    unresolved: tuple[tuple[str, str, str], ...] = ()
    unset: tuple[tuple[str, str], ...] = ()
    # (service, variable) of each variable a build section uses that only .env sets, which a
    # release does not read (project.release_env lists those it may).
    withheld: tuple[tuple[str, str], ...] = ()

    def require_resolved(self, where: str = "this environment") -> None:
        """Refuse, before anything runs, a build that needs a variable nothing sets."""
        if not self.unresolved:
            return
        names = list(dict.fromkeys(v for _, v, _ in self.unresolved))
        lines = [f"{var} (service '{service}' in {self.file_using(var)}{': ' + message if message else ''})"
                 for service, var, message in self.unresolved]
        only_env = [name for name in names if name in {v for _, v in self.withheld}]
        raise StackError(
            f"Mode '{self.name}' builds with variable{'s' if len(names) > 1 else ''} "
            f"that {where} does not set: {'; '.join(lines)}"
            + (f" ({', '.join(only_env)} only in .env, which a release does not read)" if only_env else "") + ".",
            tip=f"Set {', '.join(names)} in the environment (in GitHub Actions: map {'them' if len(names) > 1 else 'it'} from vars. "
                "or secrets. with polyarch.toml's [workflows] env), list it in project.release_env to build with this "
                "machine's .env value, or give a default: ${VAR:-value}.")

    def file_using(self, variable: str) -> str:
        """The mode's compose files that write `${variable` (for messages; all of them when none does)."""
        pattern = re.compile(r"\$\{" + re.escape(variable) + r"\b")
        found = [f for f in self.files if f.is_file() and pattern.search(f.read_text(encoding="utf-8", errors="replace"))]
        return ", ".join(f.name for f in (found or self.files))

    def local_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for image in self.images for n in image.local_names))

    def image(self, name: str) -> ImageBuild:
        for image in self.images:
            if image.name == name:
                return image
        raise StackError(f"Mode '{self.name}' builds no image '{name}' (it builds: {', '.join(i.name for i in self.images) or 'none'}).")

    def images_for(self, services: tuple[str, ...]) -> tuple[ImageBuild, ...]:
        """The builds that the named services run (each service is checked)."""
        unknown = [s for s in services if s not in self.services]
        if unknown:
            raise StackError(f"Mode '{self.name}' has no service {', '.join(repr(s) for s in unknown)}{did_you_mean(unknown[0], self.services)}.",
                             tip=f"Services: {', '.join(self.services)}.")
        chosen = [i.name for i in self.images if set(i.services) & set(services)]
        # An image built from a sibling's needs that sibling in the same bake call.
        for name in chosen:
            chosen += [n for n in self.image(name).needs() if n not in chosen]
        return tuple(i for i in self.images if i.name in chosen)


@dataclass(frozen=True)
class Stack:
    """A project adopted as it is: its compose modes and polyarch.toml settings."""

    project: Project
    name: str
    settings: Settings
    platforms: tuple[str, ...]
    modes: dict[str, Mode]
    roles: dict[str, str | None]
    optional: tuple[ImageBuild, ...] = field(default=())
    # Where the name came from (polyarch.toml, COMPOSE_PROJECT_NAME, `name:`, the folder), for messages.
    name_from: str = ""
    # Modes of other tasks whose compose files could not be read (mode -> why); see Scope.
    unread: dict[str, StackError] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def source(self) -> Path:
        """The file that describes the stack: polyarch.toml, else the first compose file."""
        return self.project.settings_file or self.project.compose_files[0]

    @property
    def registry(self) -> str:
        return self.settings.project.registry or ""

    @property
    def pull_registry(self) -> str:
        return self.settings.project.pull_registry or ""

    @property
    def env_file(self) -> Path:
        return self.root / self.settings.project.env_file

    @property
    def env_example(self) -> Path:
        return self.root / self.settings.project.env_example

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self.settings.project.secrets)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.settings.project.required)

    @property
    def urls(self) -> dict[str, tuple[str, str]]:
        return {label: (pair[0], pair[1]) for label, pair in self.settings.project.urls.items()}

    @property
    def values_file(self) -> Path | None:
        value = self.settings.project.values_file
        return self.root / value if value else None

    def mode(self, name: str) -> Mode:
        if name in self.unread:
            raise self.unread[name]
        if name not in self.modes:
            known = [*self.modes, *self.unread]
            raise StackError(f"The stack has no mode '{name}'{did_you_mean(name, known)} (modes: {', '.join(known)}).",
                             tip="Name a mode of polyarch.toml's [modes] tables, or leave --mode out.")
        return self.modes[name]

    def role(self, role: str) -> Mode:
        """The mode a group of tasks uses (dev, prod or airtight)."""
        name = self.roles.get(role)
        if name is None:
            raise StackError(f"{self.source}: no mode is named '{role}', so polyarch does not know which mode {ROLE_TASKS[role]} use.",
                             tip=f"Add `[tasks]` with `{role} = \"MODE\"` to polyarch.toml (modes: {', '.join([*self.modes, *self.unread])}).")
        return self.mode(name)

    def all_local_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for mode in self.modes.values() for n in mode.local_names()))

    def every_profile_local_names(self, read_config: "ConfigReader") -> tuple[str, ...]:
        """Every mode's local names, services under any compose profile included (`read_config` reads every profile)."""
        names = list(self.all_local_names())
        for mode in self.modes.values():
            builds, _, _ = raw_builds(read_config(mode.files, self.name), self.name, f"mode '{mode.name}'")
            names += [b.local_name for b in builds]
        return tuple(dict.fromkeys(names))

    def all_files(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(f for mode in self.modes.values() for f in mode.files))


ConfigReader = Callable[[tuple[Path, ...], str | None], dict[str, Any]]
