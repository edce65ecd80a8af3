"""What the steps of one run share: the log of earlier results, registry reads done ahead, backup names."""

from __future__ import annotations

from dataclasses import dataclass, field

from polyarch.execution.results import RunLog


@dataclass
class RunState:
    log: RunLog = field(default_factory=RunLog)
    # Registry reads done ahead for a run of Verify steps, by ref: the index, or the exception reading it raised.
    read_ahead: dict[str, object] = field(default_factory=dict)
    # The backup names KeepNames made, until RestoreNames (or a failure) puts them back or DropKeptNames forgets them.
    kept: dict[str, str | None] = field(default_factory=dict)
