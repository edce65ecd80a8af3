"""What the engine is handed: one docker call's arguments, and the shape of the build and compose steps it runs.

The step types live in polyarch.planning.plans; the engine only names what it
reads from them (structural Protocols), so it never imports the planning layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class DockerArgs:
    """One docker CLI call a step makes: its fixed words, python-on-whales keyword arguments and operands.

    The engine passes `kwargs()` and `operands` to python-on-whales as they
    are; `words()` is the same call as the plan prints it, so the two cannot drift.
    """

    command: tuple[str, ...]
    options: tuple[tuple[str, object], ...] = ()
    operands: tuple[str, ...] = ()

    # python-on-whales names whose flag is spelled otherwise, and flags that a False value turns on.
    FLAGS = {"files": "--file"}
    NEGATED = {"cache": "--no-cache"}

    def kwargs(self) -> dict[str, object]:
        return dict(self.options)

    def words(self) -> list[str]:
        words = list(self.command)
        for key, value in self.options:
            flag = self.FLAGS.get(key, "--" + key.replace("_", "-"))
            if value is False and key in self.NEGATED:
                words.append(self.NEGATED[key])
            elif value is True and key not in self.NEGATED:
                words.append(flag)
            elif isinstance(value, (tuple, list)):
                for item in value:
                    words += [flag, str(item)]
            elif value not in (None, False, True):
                words += [flag, str(value)]
        return words + list(self.operands)

    def text(self) -> str:
        return " ".join(self.words())


class BakeTargetSpec(Protocol):
    """What a failed build's message names of one bake target."""

    @property
    def name(self) -> str: ...

    @property
    def services(self) -> tuple[str, ...]: ...

    @property
    def dockerfile(self) -> Path: ...


class BuildSpec(Protocol):
    """What `Engine.bake` reads of a build step (polyarch.planning.plans.Build)."""

    @property
    def targets(self) -> tuple[BakeTargetSpec, ...]: ...

    def definition_json(self) -> str: ...

    def call(self, bake_file: str = ...) -> DockerArgs: ...


class ComposeSpec(Protocol):
    """What the compose methods read of a compose project (polyarch.planning.plans.Compose)."""

    @property
    def project(self) -> str: ...

    @property
    def variables(self) -> tuple[tuple[str, str], ...]: ...

    def client_options(self) -> dict[str, object]: ...
