"""Which compose files each mode reads, which mode each task role uses, and the paths polyarch.toml names."""

from __future__ import annotations

import os
from pathlib import Path

from polyarch.core.errors import StackError
from polyarch.core.suggest import did_you_mean
from polyarch.model.project import COMPOSE_NAMES, Project
from polyarch.model.settings import Settings
from polyarch.model.stack import ROLES, ZERO_CONFIG_ROLES


def check_paths(project: Project, settings: Settings) -> None:
    """Every file polyarch.toml names stays inside the project folder (mode files: `mode_files`)."""
    own = settings.project
    project.path(own.env_file, "project.env_file")
    project.path(own.env_example, "project.env_example")
    if own.values_file:
        project.path(own.values_file, "project.values_file")
    for key, spec in settings.optional.items():
        project.path(spec.context, f"optional.{key}.context")
        project.path(str(Path(spec.context) / spec.dockerfile), f"optional.{key}.dockerfile")


def mode_files(project: Project, settings: Settings, env: dict[str, str]) -> dict[str, tuple[Path, ...]]:
    """Each mode's compose files, with its overlay when the .env key asks for it."""
    if not settings.modes:
        if not project.compose_files:
            raise StackError(f"{project.describe()}: there is no compose file ({', '.join(COMPOSE_NAMES)}) in {project.root} and no [modes] table.",
                             tip="Add a compose file, or name each mode's files in polyarch.toml's [modes] tables.")
        missing = [f for f in project.compose_files if not f.is_file()]
        if missing:  # only COMPOSE_FILE can name a file that is not there
            origin = "$COMPOSE_FILE" if os.environ.get("COMPOSE_FILE") else f"COMPOSE_FILE in {settings.project.env_file}"
            raise StackError(f"{project.describe()}: {origin} names {missing[0]}, which does not exist.",
                             tip="Correct COMPOSE_FILE (paths relative to the project folder, separated by COMPOSE_PATH_SEPARATOR, "
                                 "default ':'), or unset it to use the default compose files.")
        if project.prod_files is not None:
            # Compose's convention: base + override for development, base (+ prod file) for production.
            return {"dev": project.compose_files, "prod": project.prod_files}
        return {"default": project.compose_files}
    result = {}
    for name, spec in settings.modes.items():
        files = [project.path(f, f"modes.{name}.files") for f in spec.files]
        if spec.overlay and env.get(spec.overlay.key, "") == spec.overlay.value:
            files += [project.path(f, f"modes.{name}.overlay.files") for f in spec.overlay.files]
        for f in files:
            if not f.is_file():
                raise StackError(f"{project.describe()}: mode '{name}' names {f}, which does not exist.")
        result[name] = tuple(files)
    return result


def mode_roles(settings: Settings, files: dict[str, tuple[Path, ...]], where: str) -> dict[str, str | None]:
    """The mode each role (dev, prod, airtight) uses."""
    roles: dict[str, str | None] = {}
    for role in ROLES:
        wanted = getattr(settings.tasks, role)
        if not settings.modes:
            roles[role] = ZERO_CONFIG_ROLES[role] if ZERO_CONFIG_ROLES[role] in files else "default"
        elif wanted in files:
            roles[role] = wanted
        elif role in settings.tasks.model_fields_set:
            raise StackError(f"{where}: tasks.{role} names mode '{wanted}', which is not defined{did_you_mean(wanted, files)}.")
        else:
            # One mode serves every task; with several, a missing role is an
            # error only when a task needs it (Stack.role).
            roles[role] = next(iter(files)) if len(files) == 1 else None
    return roles
