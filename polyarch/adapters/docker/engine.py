"""The only code that talks to docker, buildx and compose (through python-on-whales).

`Engine` is a facade over one class per area (buildx, imagetools, images,
compose); every docker call runs inside `errors.docker_errors`, which says
what failed and how to fix it. python-on-whales is imported when an `Engine`
is created, never at module import, to keep `polyarch --list` fast.
"""

from __future__ import annotations

import shutil
import subprocess

from polyarch.adapters.docker.buildx import Buildx
from polyarch.adapters.docker.compose import ComposeProjects
from polyarch.adapters.docker.errors import NO_CLIENT_TIP, docker_errors, no_engine_tip
from polyarch.adapters.docker.images import Images
from polyarch.adapters.docker.imagetools import Imagetools
from polyarch.adapters.docker.models import BuilderInfo, ContainerState, EngineInfo, ImageIndex, LocalImage
from polyarch.adapters.docker.parse import attestation_kinds, engine_info, one_platform_index
from polyarch.core.errors import EngineError

__all__ = ["BuilderInfo", "ContainerState", "Engine", "EngineInfo", "ImageIndex", "LocalImage", "attestation_kinds",
           "engine_arch", "one_platform_index"]


class Engine(Buildx, Imagetools, Images, ComposeProjects):
    """A Docker engine reached through python-on-whales."""

    def __init__(self, config_dir: str | None = None) -> None:
        from python_on_whales import DockerClient
        from python_on_whales.exceptions import DockerException

        if shutil.which("docker") is None:
            raise EngineError(
                "The docker command-line client is not installed (no `docker` on PATH).",
                NO_CLIENT_TIP,
            )
        self._client_cls = DockerClient
        self._config_dir = config_dir
        self.DockerException = DockerException
        self.docker = DockerClient(config=config_dir) if config_dir else DockerClient()
        self._info: EngineInfo | None = None

    def info(self) -> EngineInfo:
        """What the engine says about itself (asked once per Engine)."""
        if self._info is None:
            self._info = self._read_info()
        return self._info

    def _read_info(self) -> EngineInfo:
        with docker_errors("ask the engine about itself (docker info)"):
            info = self.docker.system.info()
        if not info.server_version:
            raise EngineError("The Docker engine does not answer.", no_engine_tip())
        return engine_info(info)

    def registry_mirrors(self) -> tuple[str, ...]:
        """The engine's Docker Hub mirrors, so polyarch reads Docker Hub images where the engine would."""
        return self.info().mirrors

    def plugin_version(self, name: str) -> str | None:
        """The version a CLI plugin reports, or None when it is missing."""
        try:
            if name == "buildx":
                version = self.docker.buildx.version()
                return version.get("version") if isinstance(version, dict) else str(version).strip()
            if name == "compose":
                return self.docker.compose.version()
        except self.DockerException:
            return None
        except Exception:  # noqa: BLE001 - a plugin that prints nonsense counts as missing
            return None
        raise ValueError(name)


def engine_arch() -> str | None:
    """The architecture `docker info` reports (its Architecture field), or None when no engine answers.

    For dry runs: one docker command and no python-on-whales import, so a
    plan costs little more than reading the project.
    """
    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        result = subprocess.run([docker, "info", "--format", "{{.Architecture}}"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    arch = result.stdout.strip()
    return arch if result.returncode == 0 and arch and arch != "<no value>" else None
