"""buildx builders and `buildx bake`: the part of the Engine that builds images."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any, Callable

from polyarch.adapters.docker.args import BuildSpec
from polyarch.adapters.docker.buildlog import failed_step
from polyarch.adapters.docker.environment import environment
from polyarch.adapters.docker.errors import command_output, converted, docker_errors, explain, registry_hiccup
from polyarch.adapters.docker.models import BuilderInfo
from polyarch.adapters.docker.parse import builder_platforms
from polyarch.core.errors import EngineError
from polyarch.core.progname import prog


def bake_error(exc: Exception, build: BuildSpec, streamed: bool) -> EngineError:
    """A failed bake, said once: the failing step with its image, services and Dockerfile line.

    With `streamed`, buildx' output is already on screen, so the message
    does not repeat it.
    """
    text = command_output(exc)
    step = failed_step(text, tuple(t.name for t in build.targets))
    if step is None or step.line is None:
        error = explain(exc, f"build {', '.join(t.name for t in build.targets)}")
        errors = [line for line in text.splitlines() if line.startswith("ERROR")]
        if streamed and error.message.startswith("Could not ") and errors:
            return EngineError(f"{error.message.splitlines()[0]}\n{errors[-1]}", error.tip)
        return error
    target = next((t for t in build.targets if t.name == step.target), None)
    what = "The build"
    if target is not None:
        services = f" (service{'s' if len(target.services) > 1 else ''} {', '.join(target.services)})" if target.services else ""
        what = f"The {target.name} image{services}"
    dockerfile = shown_path(target.dockerfile) if target is not None else "the Dockerfile"
    platform = f" for {step.platform}" if step.platform else ""
    tip = f"Fix that line of {dockerfile} (buildx' output above shows what the step printed), then run the task again."
    if step.unreachable:
        tip = ("The registry that line fetches from could not be reached: check this machine's network and DNS "
               "(or give the engine a registry mirror), then run the task again.")
    return EngineError(f"{what} failed to build{platform} at {dockerfile}:{step.line}: `{step.instruction}` {step.outcome()}.", tip)


def shown_path(path: Path) -> str:
    """`path` relative to the working folder when it is inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _bake_failure(build: BuildSpec, streamed: bool) -> Callable[[Exception], EngineError]:
    def convert(exc: Exception) -> EngineError:
        error = bake_error(exc, build, streamed)
        error.transient = registry_hiccup(exc)
        return error

    return convert


class Buildx:
    """Engine methods for buildx builders and bake (mixed into Engine)."""

    docker: Any
    DockerException: type[Exception]

    def builder(self, name: str | None = None, bootstrap: bool = True) -> BuilderInfo:
        """A builder's driver and platforms; `bootstrap` starts it first if it is stopped."""
        with docker_errors(f"inspect the buildx builder{' ' + name if name else ''}"):
            result = self.docker.buildx.inspect(name, bootstrap=bootstrap)
        return BuilderInfo(result.name, result.driver, builder_platforms(node.platforms for node in result.nodes))

    def ensure_container_builder(self, name: str) -> BuilderInfo:
        """Create (once) a docker-container builder named `name` and return it."""
        created = False
        if not self.builder_exists(name):
            with docker_errors(f"create the buildx builder {name}"):
                self.docker.buildx.create(name=name, driver="docker-container")
                created = True
        try:
            return self.builder(name)
        except EngineError as exc:
            # A builder that cannot start (its BuildKit image cannot be pulled,
            # say) is removed again rather than left behind broken.
            if created:
                with contextlib.suppress(self.DockerException):
                    self.docker.buildx.remove(name)
            raise EngineError(f"The buildx builder {name} (docker-container driver) could not start, so it was removed again.\n{exc.message}",
                              "It needs the moby/buildkit image. Where no registry is reachable, use the docker driver with "
                              f"the containerd image store instead (`{prog()} doctor` says how).") from None

    def builder_exists(self, name: str) -> bool:
        with docker_errors("list buildx builders"):
            return name in [b.name for b in self.docker.buildx.list()]

    def remove_builder(self, name: str) -> None:
        with docker_errors(f"remove the builder {name}"):
            self.docker.buildx.remove(name)

    def add_builder_node(self, name: str, platform: str, endpoint: str, append: bool) -> None:
        with docker_errors(f"add a {platform} node at {endpoint} to the builder {name}"):
            self.docker.buildx.create(endpoint, name=name, driver="docker-container", platforms=[platform], append=append)

    def bake(self, build: BuildSpec, metadata: bool = False, on_line: Callable[[str], None] | None = None,
             env: tuple[tuple[str, str], ...] = ()) -> dict:
        """Run one bake call for the plan's targets, with `env` added to its environment. Returns buildx' metadata when asked.

        buildx' output is streamed to `on_line` as it comes, so a failing step's
        output is on screen; its tail also goes into the error.
        """
        with tempfile.TemporaryDirectory(prefix="polyarch-bake-") as tmp:
            bake_file = Path(tmp) / "bake.json"
            bake_file.write_text(build.definition_json())
            metadata_file = Path(tmp) / "metadata.json"
            call = build.call(str(bake_file))
            with converted(_bake_failure(build, streamed=on_line is not None)), environment(env):
                for line in self.docker.buildx.bake(list(call.operands), **call.kwargs(),
                                                    metadata_file=str(metadata_file) if metadata else None, stream_logs=True):
                    if on_line:
                        on_line(line)
            if metadata and metadata_file.exists():
                return json.loads(metadata_file.read_text())
            return {}
