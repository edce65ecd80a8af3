"""docker compose: start, stop and read a project's state, and read compose files (mixed into Engine)."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

from polyarch.adapters.docker.args import ComposeSpec, DockerArgs
from polyarch.adapters.docker.environment import environment
from polyarch.adapters.docker.errors import NO_CLIENT_TIP, ComposeRefused, command_output, converted, docker_errors, explain
from polyarch.adapters.docker.models import ContainerState
from polyarch.adapters.docker.parse import config_hashes, containers, service_images, service_replicas
from polyarch.core.errors import EngineError

PS = ["ps", "--all", "--format", "json"]


class ComposeProjects:
    """Engine methods for compose projects."""

    docker: Any
    _client_cls: Any
    _config_dir: str | None

    def _compose(self, compose: ComposeSpec):
        return self._client_cls(config=self._config_dir, **compose.client_options())

    def _compose_command(self, compose: ComposeSpec) -> list:
        return self._compose(compose).client_config.docker_compose_cmd

    def compose_up(self, compose: ComposeSpec, call: DockerArgs, on_line: Callable[[str], None]) -> None:
        """`compose up` exactly as a ComposeUp step's call() says (it never builds: polyarch builds beforehand)."""
        client = self._compose(compose)
        with environment(compose.variables), docker_errors(f"start the {compose.project} stack"):
            for _source, line in client.compose.up(list(call.operands) or None, **call.kwargs(), stream_logs=True):
                on_line(line.decode(errors="replace"))

    def compose_state(self, compose: ComposeSpec) -> tuple[dict[str, str], list[ContainerState], dict[str, int]]:
        """Compose's config hash per service, the project's containers as compose labelled them, and each service's replicas."""
        from python_on_whales.utils import run

        command = self._compose_command(compose)
        asks = (["config", "--hash", "*"], PS, ["config", "--format", "json"])
        with environment(compose.variables), ThreadPoolExecutor(max_workers=len(asks)) as pool:
            with docker_errors(f"read the state of the {compose.project} stack"):
                hashes_text, listing, config_text = pool.map(lambda args: run(command + args), asks)
        config = json.loads(config_text)
        return config_hashes(hashes_text), containers(listing, service_images(config, compose.project)), service_replicas(config)

    def compose_containers(self, compose: ComposeSpec) -> list[ContainerState]:
        """The project's containers as `compose ps --all` shows them (state, health, exit code)."""
        from python_on_whales.utils import run

        command = self._compose_command(compose)
        with environment(compose.variables), docker_errors(f"read the state of the {compose.project} stack"):
            listing = run(command + PS)
        return containers(listing, {})

    def compose_down(self, compose: ComposeSpec, call: DockerArgs, on_line: Callable[[str], None]) -> None:
        """`compose down` exactly as a ComposeDown step's call() says; compose's progress lines go to `on_line`."""
        client = self._compose(compose)
        with environment(compose.variables), docker_errors(f"stop the {compose.project} stack"):
            for _source, line in client.compose.down(**call.kwargs(), stream_logs=True):
                on_line(line.decode(errors="replace"))

    def compose_remove(self, compose: ComposeSpec, call: DockerArgs) -> None:
        """`compose rm` exactly as a ComposeRemove step's call() says."""
        client = self._compose(compose)
        with environment(compose.variables), docker_errors(f"stop and remove {', '.join(call.operands)}"):
            client.compose.rm(list(call.operands), **call.kwargs())

    def compose_logs(self, compose: ComposeSpec, services: list[str], follow: bool, tail: int) -> Iterator[str]:
        client = self._compose(compose)
        with docker_errors(f"read logs of the {compose.project} stack"):
            for _source, line in client.compose.logs(services=services, follow=follow, tail=str(tail), stream=True):
                yield line.decode(errors="replace")

    def project_config_files(self, project: str) -> list[str]:
        """The compose files the project's running containers were created from."""
        with docker_errors(f"list the {project} stack's containers"):
            found = self.docker.container.list(filters={"label": f"com.docker.compose.project={project}"})
        for container in found:
            files = container.config.labels.get("com.docker.compose.project.config_files")
            if files:
                return files.split(",")
        return []

    def project_resources(self, project: str) -> dict[str, list[str]]:
        """Containers, networks, volumes labelled with a compose project."""
        label = {"label": f"com.docker.compose.project={project}"}
        with docker_errors(f"list resources of the {project} project"):
            return {
                "containers": [c.name for c in self.docker.container.list(all=True, filters=label)],
                "networks": [n.name for n in self.docker.network.list(filters=label)],
                "volumes": [v.name for v in self.docker.volume.list(filters=label)],
            }


def _refused(files: tuple[Path, ...]) -> Callable[[Exception], EngineError]:
    """A failed `compose config`: a missing compose plugin is explained here; anything else is the files' fault."""
    def convert(exc: Exception) -> EngineError:
        error = explain(exc, f"read the compose files {', '.join(str(f) for f in files)}")
        text = command_output(exc)
        if "is not a docker command" in text.lower():
            return error
        return ComposeRefused(error.message, text)

    return convert


def compose_config_reader(env_file: Path | None, all_profiles: bool = False,
                          interpolate: bool = True) -> Callable[[tuple[Path, ...], str | None], dict]:
    """A function that returns compose's resolved config (as JSON data) for some files.

    Compose does the reading: merging, `.env` interpolation, relative paths
    made absolute. Only the docker CLI and its compose plugin are needed, not
    a running engine. What compose refuses in the files is a ComposeRefused
    holding compose's words (polyarch.model.composecache explains them). With
    `all_profiles`, services under every profile are read too (`--profile '*'`).
    Without `interpolate` (`config --no-interpolate`) every `${VAR}` stays as
    written. `env_file` None: compose is given no env file.
    """
    from python_on_whales import DockerClient

    if shutil.which("docker") is None:
        raise EngineError("The docker command-line client is not installed (no `docker` on PATH), so the compose files cannot be read.",
                          NO_CLIENT_TIP)

    def read(files: tuple[Path, ...], project: str | None) -> dict:
        client = DockerClient(
            compose_files=[str(f) for f in files],
            compose_project_name=project,
            compose_env_files=[str(env_file)] if env_file is not None and env_file.is_file() else [],
            compose_profiles=["*"] if all_profiles else [],
        )
        with converted(_refused(files)):
            if interpolate:
                return client.compose.config(return_json=True)
            from python_on_whales.utils import run

            return json.loads(run(client.compose.docker_compose_cmd + ["config", "--no-interpolate", "--format", "json"],
                                  capture_stdout=True))

    return read
