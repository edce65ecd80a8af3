"""Plans: frozen descriptions of what a task will do to the outside world.

A planner (pure, in `polyarch.planning.*_plans`) turns a stack, a mode and options into a
`Plan`; `--dry-run` prints it; `polyarch.execution.runner` walks the same plan step by
step. Nothing here touches docker, the network or the file system.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Union

from polyarch.planning.steps.build import AddBuilderNode, Build, RemoveBuilder
from polyarch.planning.steps.bundle import FetchBundle, LoadBundle, SaveBundle, VerifyBundleSignature
from polyarch.planning.steps.compose import ComposeDown, ComposeRemove, ComposeUp
from polyarch.planning.steps.files import FILE_STEPS, InitEnv, WriteFiles
from polyarch.planning.steps.images import CheckImages, DropKeptNames, KeepNames, Pull, PullVerified, RemoveImages, RestoreNames, Tag
from polyarch.planning.steps.release import CopyByDigest, CreateManifest, RecordDigests, SignImage, UpdateValues, Verify, VerifySignature

Step = Union[InitEnv, WriteFiles, PullVerified, SignImage, VerifySignature, VerifyBundleSignature, FetchBundle, DropKeptNames, KeepNames, RestoreNames, ComposeRemove, CopyByDigest, RecordDigests, RemoveBuilder, AddBuilderNode, SaveBundle, LoadBundle, Build, Tag, Pull, ComposeUp, ComposeDown, RemoveImages, CheckImages, Verify, CreateManifest, UpdateValues]


@dataclass(frozen=True)
class Plan:
    """An ordered list of steps, with a title and notes for the reader."""

    title: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def uses_engine(self) -> bool:
        return not all(isinstance(step, FILE_STEPS) for step in self.steps)

    def to_data(self) -> dict[str, object]:
        """The plan as plain JSON-ready data: every step with its kind and fields."""
        return {
            "title": self.title,
            "notes": list(self.notes),
            "steps": [{"kind": type(step).__name__, "summary": step.summary(), **_plain(step)} for step in self.steps],
        }


def _plain(value: object) -> object:
    """Dataclasses, paths and tuples as JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        data = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, Build):
            data["bake_definition"] = value.definition()
        return data
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
