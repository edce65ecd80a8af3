"""Loading the stack: find the project, read polyarch.toml, .env and each mode's compose config."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from polyarch.core.errors import StackError
from polyarch.core.interpolate import resolve_builds
from polyarch.model.assembly import build_stack
from polyarch.model.compose_builds import well_formed
from polyarch.model.envfile import read_env
from polyarch.model.modes import check_paths, mode_files, mode_roles
from polyarch.model.project import Project, compose_variable, find_project, with_env_file
from polyarch.model.settings import SETTINGS_FILE, Settings
from polyarch.model.settings_file import load_settings
from polyarch.model.stack import DEFAULT_PLATFORMS, ROLES, ConfigReader, Stack

@dataclass(frozen=True)
class Scope:
    """What of the stack one task needs.

    The task runs one mode: `mode` (from --mode), else the mode of `role`. That
    mode's compose files must read; every other mode is read too (an image-only
    service may run what another mode builds) but is left out, in
    `Stack.unread`, when compose cannot read it. With neither role nor mode,
    no mode is needed: every readable mode is read (down, nuke). Only when
    `builds` are the mode's build contexts and Dockerfiles checked.
    `compose=False` reads no compose file at all (init).
    """

    role: str | None = None
    mode: str | None = None
    builds: bool = False
    compose: bool = True

    def needed(self, roles: dict[str, str | None]) -> set[str]:
        chosen = self.mode or (roles.get(self.role) if self.role else None)
        return {chosen} if chosen else set()


def load_stack(explicit: str | None = None, cwd: Path | None = None, read_config: ConfigReader | None = None,
               on_env: Callable[[dict[str, str], tuple[str, ...]], None] | None = None,
               reading: str = "run", scope: Scope | None = None) -> Stack:
    """Find the project, read polyarch.toml and the modes' compose config, and validate them.

    `on_env` receives the .env values and the declared secret keys as soon as they are
    read, before compose sees them, so that any later message can hide them.
    `reading` says what the compose files may use: "run" lets compose
    interpolate everything (what `up` needs); "publish" reads them without
    interpolation and resolves only build sections and image names, from the
    environment (and the `.env` keys project.release_env lists; image names
    may use all of `.env`); "committed" does the same
    from nothing but the files (no .env, no environment), so that the
    answer is the same on every machine.
    `scope`: what the task needs (Scope); None needs every mode and checks every build.
    """
    project = find_project(explicit, cwd)
    settings = load_settings(project.settings_file) if project.settings_file else Settings()
    check_paths(project, settings)
    env_file = project.root / settings.project.env_file
    env = read_env(env_file) if reading != "committed" else {}
    if on_env is not None:
        on_env(env, (*settings.project.secrets, *settings.project.required))
    project = with_env_file(project, env)
    if scope is not None and not scope.compose:
        return _settings_only(project, settings, env, env_file)
    files = mode_files(project, settings, env)
    if read_config is None:
        from polyarch.model.composecache import cached_reader

        read_config = cached_reader(project.root, env_file if reading != "committed" else None,
                                    project.root / settings.project.env_example, interpolate=reading == "run")
    needed = set(files) if scope is None else scope.needed(mode_roles(settings, files, project.describe()))
    name = settings.project.name
    name_from = f"project.name in {SETTINGS_FILE}"
    configs, unread, read_name = _read_modes(files, name, read_config, needed, project.root.name)
    if name is None:
        name = read_name
        name_from = _name_source(name, project.root, env, env_file)
    checked = None if scope is None else (needed if scope.builds else set())
    if reading == "run":
        return replace(build_stack(project, settings, configs, files, name, name_from, checked),
                       unread=unread)
    profiles = compose_variable("COMPOSE_PROFILES", env)
    active = {p.strip() for p in (profiles if reading != "committed" else "").split(",") if p.strip()}
    configs = {m: active_profiles_only(config, active) for m, config in configs.items()}
    names = {} if reading == "committed" else {**env, **os.environ}
    allowed = set(settings.project.release_env)
    builds = {k: v for k, v in names.items() if k in os.environ or k in allowed}
    return replace(_resolved_stack(project, settings, configs, files, name, builds, name_from, checked, names),
                   unread=unread)


def _read_modes(files: dict[str, tuple[Path, ...]], name: str | None, read_config: ConfigReader, needed: set[str],
                folder: str) -> tuple[dict[str, dict[str, Any]], dict[str, StackError], str]:
    """Each mode's compose config, in order; a mode not needed that compose cannot read goes to the second dict.

    polyarch.toml's name (`name`) is passed to compose as `-p`, which compose ranks first;
    without it compose's own rule (COMPOSE_PROJECT_NAME, top-level `name:`, the folder)
    decides, read from the first mode's config (the first readable one, when the first
    is not needed); the others then use that name.
    """
    order = list(files)
    configs: dict[str, dict[str, Any]] = {}
    unread: dict[str, StackError] = {}

    def attempt(mode: str, project_name: str | None) -> None:
        try:
            configs[mode] = read_config(files[mode], project_name)
        except StackError as exc:
            if mode in needed:
                raise
            unread[mode] = exc

    if name is None:
        for mode in order:
            attempt(mode, None)
            if mode in configs:
                name = str(configs[mode].get("name") or folder)
                break
        else:
            # Nothing readable: compose cannot even tell the project's name.
            raise next(iter(unread.values()))
    rest = [m for m in order if m not in configs and m not in unread]
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(rest)))) as pool:
        list(pool.map(lambda m: attempt(m, name), rest))
    return {m: configs[m] for m in order if m in configs}, {m: unread[m] for m in order if m in unread}, name


def _settings_only(project: Project, settings: Settings, env: dict[str, str], env_file: Path) -> Stack:
    """The stack as polyarch.toml and .env describe it, with no compose file read (no modes)."""
    if settings.project.name:
        name, name_from = settings.project.name, f"project.name in {SETTINGS_FILE}"
    else:
        # compose's rule without its files: COMPOSE_PROJECT_NAME, else the folder (a top-level `name:` is not seen).
        name = compose_variable("COMPOSE_PROJECT_NAME", env) or _folder_name(project.root)
        name_from = _name_source(name, project.root, env, env_file)
    return Stack(project, name, settings, DEFAULT_PLATFORMS, {}, {r: None for r in ROLES}, name_from=name_from)


def active_profiles_only(config: dict[str, Any], active: set[str]) -> dict[str, Any]:
    """The services compose would run with these profiles active.

    compose 2.26's `config --no-interpolate` lists the services of every
    profile, so a reading without interpolation is narrowed here.
    """
    if "*" in active:
        return config
    services = {s: spec for s, spec in (config.get("services") or {}).items()
                if not (spec or {}).get("profiles") or set(spec["profiles"]) & active}
    return {**config, "services": services}


def _name_source(name: str, root: Path, env: dict[str, str], env_file: Path) -> str:
    """Where compose took the project name from, for messages that ask to change it."""
    if os.environ.get("COMPOSE_PROJECT_NAME"):
        return "$COMPOSE_PROJECT_NAME"
    if env.get("COMPOSE_PROJECT_NAME"):
        return f"COMPOSE_PROJECT_NAME in {env_file.name}"
    if name == _folder_name(root):
        return f"the folder's name ({root.name})"
    return "the top-level name: of the compose file"


def _folder_name(root: Path) -> str:
    """The project name compose makes of a folder's name."""
    return re.sub(r"[^a-z0-9_-]", "", root.name.lower())


def _resolved_stack(project: Project, settings: Settings, configs: dict[str, dict[str, Any]],
                    files: dict[str, tuple[Path, ...]], name: str, variables: dict[str, str], name_from: str,
                    checked_modes: set[str] | None, name_variables: dict[str, str]) -> Stack:
    """build_stack on configs read without interpolation, each mode noting the variables its builds lack.

    Builds use `variables`; image names may also use `name_variables`. What only
    the latter holds (set in .env, not released to builds) is withheld from builds.
    """
    withheld = set(name_variables) - set(variables)
    findings = {}
    for mode_name, config in configs.items():
        configs[mode_name], findings[mode_name] = resolve_builds(config, variables, name_variables)
        for service, spec in configs[mode_name]["services"].items():
            # A built image whose name lacks a variable (`${REGISTRY}/app`) is
            # published under its repository anyway: it keeps compose's default
            # local name rather than stopping on an invalid one.
            if spec.get("build") and findings[mode_name][service].image_missing and not well_formed(str(spec.get("image"))):
                spec.pop("image")
    stack = build_stack(project, settings, configs, files, name, name_from, checked_modes)
    for mode_name, mode in stack.modes.items():
        per_service = findings[mode_name]
        stack.modes[mode_name] = replace(
            mode,
            unresolved=tuple((s, v, m) for s, f in per_service.items() for v, m in dict.fromkeys(f.required)),
            unset=tuple((s, v) for s, f in per_service.items() for v in dict.fromkeys(f.unset)),
            withheld=tuple((s, v) for s, f in per_service.items() for v in dict.fromkeys(f.used) if v in withheld))
    return stack
