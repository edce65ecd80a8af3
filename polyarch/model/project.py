"""Find the project polyarch works on, the way compose finds its files.

From the current folder upward, the first folder holding a `polyarch.toml` or
a compose file (`compose.yaml`, `compose.yml`, `docker-compose.yaml`,
`docker-compose.yml`, plus the matching override file) is the project;
`COMPOSE_FILE` (from the environment, else the env file: `with_env_file`)
replaces those files, as it does for compose.
`--stack` / `$POLYARCH_STACK` name a polyarch.toml, a compose file or a folder
explicitly. Reads only the file system.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from polyarch.core.errors import StackError
from polyarch.model.settings import SETTINGS_FILE

ENV_VAR = "POLYARCH_STACK"
COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_NAMES = {
    "compose.yaml": ("compose.override.yaml", "compose.override.yml"),
    "compose.yml": ("compose.override.yml", "compose.override.yaml"),
    "docker-compose.yaml": ("docker-compose.override.yaml", "docker-compose.override.yml"),
    "docker-compose.yml": ("docker-compose.override.yml", "docker-compose.override.yaml"),
}
# The production file compose's documentation pairs with each main file (instead of the override).
PROD_NAMES = {
    "compose.yaml": ("compose.prod.yaml", "compose.prod.yml"),
    "compose.yml": ("compose.prod.yml", "compose.prod.yaml"),
    "docker-compose.yaml": ("docker-compose.prod.yaml", "docker-compose.prod.yml"),
    "docker-compose.yml": ("docker-compose.prod.yml", "docker-compose.prod.yaml"),
}


@dataclass(frozen=True)
class Project:
    """A project folder: its polyarch.toml (if any) and its default compose files."""

    root: Path
    settings_file: Path | None
    compose_files: tuple[Path, ...]
    # Compose's convention (zero-config modes): the base file plus its prod file, when the
    # folder has an override or a prod file; None when there is one set of files.
    prod_files: tuple[Path, ...] | None = None
    # The compose files came from compose's defaults (not --stack FILE), so COMPOSE_FILE may replace them.
    default_files: bool = True

    def describe(self) -> str:
        return str(self.settings_file or self.root)

    def path(self, relative: str, key: str) -> Path:
        """A path from polyarch.toml, which must stay inside the project (symlinks followed)."""
        tip = f"Give {key} as a path relative to {self.root} that stays inside it (a symlink must point inside too)."
        if "\0" in relative:
            raise StackError(f"{self.describe()}: {key} holds a NUL character.", tip=tip)
        if Path(relative).is_absolute():
            raise StackError(f"{self.describe()}: {key} is an absolute path ({relative}); polyarch only uses paths inside the project.",
                             tip=tip)
        path = (self.root / relative)
        try:
            path.resolve().relative_to(self.root.resolve())
        except ValueError:
            raise StackError(f"{self.describe()}: {key} ({relative}) leads outside the project folder {self.root}.", tip=tip) from None
        except (OSError, RuntimeError):  # a symlink loop
            raise StackError(f"{self.describe()}: {key} ({relative}) cannot be resolved (a symlink loop?).", tip=tip) from None
        return path


def compose_variable(name: str, dotenv: dict[str, str] | None) -> str:
    """A COMPOSE_* setting as compose reads it: the environment first, then the env file ("" when neither sets it)."""
    return os.environ.get(name) or (dotenv or {}).get(name) or ""


def compose_file_variable(dotenv: dict[str, str] | None = None) -> tuple[str, str] | None:
    """COMPOSE_FILE and its separator, from the environment first, then the env file (as compose reads them)."""
    value = compose_variable("COMPOSE_FILE", dotenv)
    if not value:
        return None
    return value, compose_variable("COMPOSE_PATH_SEPARATOR", dotenv) or os.pathsep


def _defaults(folder: Path, dotenv: dict[str, str] | None) -> tuple[tuple[Path, ...], tuple[Path, ...] | None]:
    """The default files, and the production files when the folder follows compose's override convention."""
    variable = compose_file_variable(dotenv)
    if variable:
        value, separator = variable
        return tuple((folder / f) for f in value.split(separator) if f), None
    for name in COMPOSE_NAMES:
        main = folder / name
        if main.is_file():
            overrides = [folder / o for o in OVERRIDE_NAMES[name] if (folder / o).is_file()]
            prods = [folder / o for o in PROD_NAMES[name] if (folder / o).is_file()]
            prod_files = (main, *prods[:1]) if overrides or prods else None
            return (main, *overrides[:1]), prod_files
    return (), None


def with_env_file(project: Project, dotenv: dict[str, str]) -> Project:
    """The project with its default files chosen again now that the env file is read (it may set COMPOSE_FILE)."""
    if not project.default_files:
        return project
    files, prod_files = _defaults(project.root, dotenv)
    return replace(project, compose_files=files, prod_files=prod_files)


def _project_in(folder: Path) -> Project | None:
    settings = folder / SETTINGS_FILE
    if (settings.exists() or settings.is_symlink()) and not settings.is_file():
        # A folder, FIFO or dangling link of that name is a mistake, not "no polyarch.toml".
        raise StackError(f"{settings} is not a file ({_kind(settings)}).",
                         tip=f"Remove or rename it, or make it a {SETTINGS_FILE} file.")
    compose = tuple(f for f in (folder / n for n in COMPOSE_NAMES) if f.is_file())
    if settings.is_file() or compose:
        files, prod_files = _defaults(folder, None)
        return Project(folder, settings if settings.is_file() else None, files, prod_files)
    return None


def _kind(path: Path) -> str:
    if path.is_dir():
        return "it is a folder"
    if not path.exists():
        return "it is a symlink to nothing"
    return "it is a special file"


def find_project(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Project:
    """The project: --stack, else $POLYARCH_STACK, else the nearest folder upward with polyarch.toml or a compose file."""
    chosen = explicit or os.environ.get(ENV_VAR)
    if chosen:
        origin = "--stack" if explicit else f"${ENV_VAR}"
        path = Path(chosen).expanduser()
        if not path.is_absolute():
            path = (cwd or Path.cwd()) / path
        if not path.exists():
            raise StackError(f"{origin} points at {path}, which does not exist.",
                             tip="Give a project folder, its polyarch.toml or a compose file.")
        path = path.resolve()
        if path.is_dir():
            found = _project_in(path)
            if found is None:
                raise StackError(f"{origin} points at {path}, which holds neither {SETTINGS_FILE} nor a compose file ({', '.join(COMPOSE_NAMES)}).")
            return found
        if path.suffix == ".toml":
            files, prod_files = _defaults(path.parent, None)
            return Project(path.parent, path, files, prod_files)
        if path.suffix in (".yaml", ".yml"):
            return Project(path.parent, None, (path,), default_files=False)
        raise StackError(f"{origin} points at {path}, which is neither a polyarch.toml nor a compose file.")
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        found = _project_in(folder)
        if found is not None:
            if found.settings_file is None and not found.compose_files:
                break
            return found
    raise StackError(
        f"No {SETTINGS_FILE} or compose file ({', '.join(COMPOSE_NAMES)}) in {start} or any folder above it.",
        tip=f"Run polyarch in your project's folder, or pass --stack PATH (or set {ENV_VAR}).",
    )
