"""Compose steps: start the stack (unless it already runs what it should), remove services, take it down."""

from __future__ import annotations

import re
import time
from contextlib import contextmanager

from polyarch.adapters.docker.engine import Engine
from polyarch.core import console
from polyarch.core.errors import EngineError
from polyarch.core.progname import prog
from polyarch.execution.handlers.state import RunState
from polyarch.execution.readiness import judge_ready, stopped_at_container
from polyarch.execution.results import ComposeUpResult
from polyarch.planning.steps.compose import ComposeDown, ComposeRemove, ComposeUp
from polyarch.planning.uptodate import judge

# How long services may take to become running/healthy once compose's own wait stopped at a finished job.
READY_TIMEOUT = 300
LOG_LINES = 15

# Compose's progress lines: " Container NAME  Stopping", " Network NAME  Removed", ...
_COMPOSE_EVENT = re.compile(r"^\s*(Container|Network|Volume)\s+(\S+)\s+([A-Z][a-z]+)\s*$")


def compose_up(engine: Engine, item: ComposeUp, state: RunState) -> ComposeUpResult:
    if item.skip_if_current and not item.services:
        hashes, containers, replicas = engine.compose_state(item.compose)
        names = tuple(sorted({c.image_name for c in containers}))
        verdict = judge(hashes, containers, {n: image.id for n, image in engine.local_images(names).items()}, replicas)
        if verdict.current:
            console.info(f"  every container of {item.compose.project} already runs its current configuration and image; "
                         "nothing to start or recreate")
            return ComposeUpResult(current=True)
        # A full `up`: compose recreates just the stale services. (`--no-deps`
        # would label them with a hash computed without their depends_on,
        # so the next run would see them stale again.)
        console.info(f"  compose up: {verdict.describe()}")
    compose_up_and_wait(engine, item)
    return ComposeUpResult()


def compose_remove(engine: Engine, item: ComposeRemove, state: RunState) -> None:
    with console.live(f"stopping and removing {', '.join(item.services)}"):
        engine.compose_remove(item.compose, item.call())


def compose_down(engine: Engine, item: ComposeDown, state: RunState) -> None:
    with compose_lines(f"stopping {item.compose.project}") as on_line:
        engine.compose_down(item.compose, item.call(), on_line)


HANDLERS = {
    ComposeUp: compose_up,
    ComposeRemove: compose_remove,
    ComposeDown: compose_down,
}


class ComposeProgress:
    """What compose said it did to each container, network and volume, counted for a live status."""

    def __init__(self) -> None:
        self.state: dict[tuple[str, str], str] = {}

    def feed(self, line: str) -> bool:
        """Take one line of compose's output; True when it reported a resource's new state."""
        match = _COMPOSE_EVENT.match(line)
        if match:
            kind, name, state = match.groups()
            self.state[(kind.lower(), name)] = state.lower()
        return bool(match)

    def describe(self) -> str:
        """E.g. '3 containers: 1 stopping, 2 removed; 1 network: removed'."""
        parts = []
        for kind in ("container", "network", "volume"):
            states = [state for (k, _), state in self.state.items() if k == kind]
            if states:
                counted = ", ".join(f"{states.count(state)} {state}" for state in dict.fromkeys(states))
                parts.append(f"{len(states)} {kind}{'s' if len(states) > 1 else ''}: {counted}")
        return "; ".join(parts) or "waiting for compose"


@contextmanager
def compose_lines(label: str):
    """Pass compose's lines through as they come, under a live status that counts what it stopped, removed or started."""
    progress = ComposeProgress()
    with console.live(label) as update:
        def on_line(line: str) -> None:
            console.faint(line)
            if progress.feed(line):
                update(f"{label}: {progress.describe()}")

        yield on_line


def compose_up_and_wait(engine: Engine, item: ComposeUp) -> None:
    """`compose up --wait`; when it stops at an exited container, judge the project itself.

    Compose 2.26 counts a one-shot job that exited 0 as a failure: polyarch
    waits on until every service runs (healthy where it has a check) and
    every job has exited 0, and fails naming a job that exited non-zero or a
    service that is unhealthy, with its last log lines.
    """
    try:
        with compose_lines(f"starting {item.compose.project}") as on_line:
            engine.compose_up(item.compose, item.call(), on_line)
        return
    except EngineError as exc:
        if not stopped_at_container(exc.message):
            raise
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        verdict = judge_ready(engine.compose_containers(item.compose))
        if verdict.ready:
            console.info(f"  every service of {item.compose.project} is up; one-shot jobs finished with exit code 0")
            return
        if verdict.failed or time.monotonic() > deadline:
            failed = verdict.failed or tuple((s, f"is still not running (healthy) after {READY_TIMEOUT} s") for s in verdict.waiting)
            raise EngineError(_not_ready_message(engine, item, failed),
                              f"Read the whole log with `{prog()} logs {failed[0][0]}`, fix the service, and start the stack again.")
        time.sleep(1)


def _not_ready_message(engine: Engine, item: ComposeUp, failed: tuple[tuple[str, str], ...]) -> str:
    parts = []
    for service, why in failed:
        lines = [line.rstrip() for line in engine.compose_logs(item.compose, [service], follow=False, tail=LOG_LINES)]
        shown = "\n".join(f"    {line}" for line in lines) or "    (no output)"
        parts.append(f"Service '{service}' {why}; its last log lines:\n{shown}")
    return f"The {item.compose.project} stack did not come up.\n" + "\n".join(parts)
