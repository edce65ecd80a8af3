"""Compose steps: the project they act on, and up, rm and down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from polyarch.adapters.docker.args import DockerArgs


@dataclass(frozen=True)
class Compose:
    """The compose project a step acts on: files, project name, variables."""

    project: str
    files: tuple[Path, ...]
    env_files: tuple[Path, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()

    def client_options(self) -> dict[str, object]:
        """The compose options of the engine's client for this project (python-on-whales names)."""
        return {"compose_project_name": self.project, "compose_files": [str(f) for f in self.files],
                "compose_env_files": [str(f) for f in self.env_files]}

    def describe(self) -> str:
        """The same options as compose's command line: -p, -f and --env-file."""
        options = self.client_options()
        words = [f"-p {options['compose_project_name']}", *(f"-f {f}" for f in options["compose_files"]),
                 *(f"--env-file {f}" for f in options["compose_env_files"])]
        return " ".join(words)

    def text(self, call: DockerArgs) -> str:
        """A compose call as the plan prints it, with the variables the engine sets for it."""
        extra = ", ".join(f"{k}={v}" for k, v in self.variables)
        first, *rest = call.words()
        return f"{first} {self.describe()} {' '.join(rest)}" + (f" (with {extra})" if extra else "")


@dataclass(frozen=True)
class ComposeUp:
    """Start the stack (or some services) detached, never building, and wait until health checks pass."""

    compose: Compose
    pull: str = "missing"
    services: tuple[str, ...] = ()
    # Skip it when every container already runs its current config and image (see polyarch.planning.uptodate).
    skip_if_current: bool = False

    def call(self) -> DockerArgs:
        # A full `up` removes containers of services the files no longer name; starting some services leaves the rest.
        return DockerArgs(("compose", "up"), (("detach", True), ("wait", True), ("no_build", True), ("pull", self.pull),
                                              ("remove_orphans", not self.services)), self.services)

    def summary(self) -> str:
        return self.compose.text(self.call()) + ("; skipped when every container already runs its current configuration and image"
                                                 if self.skip_if_current else "")


@dataclass(frozen=True)
class ComposeRemove:
    """Stop and remove some services' containers (compose rm --stop --force)."""

    compose: Compose
    services: tuple[str, ...]

    def call(self) -> DockerArgs:
        # python-on-whales always adds --force to `rm`.
        return DockerArgs(("compose", "rm", "--force"), (("stop", True), ("volumes", False)), self.services)

    def summary(self) -> str:
        return self.compose.text(self.call())


@dataclass(frozen=True)
class ComposeDown:
    """Stop and remove the stack's containers and networks (and volumes, if asked)."""

    compose: Compose
    volumes: bool = False

    def call(self) -> DockerArgs:
        return DockerArgs(("compose", "down"), (("remove_orphans", True), ("volumes", self.volumes)))

    def summary(self) -> str:
        return self.compose.text(self.call())
