"""Is a started compose project ready: services up (and healthy), one-shot jobs finished with 0?

Compose 2.26's `up --wait` fails as soon as any container exits, even a
one-shot job that exited 0 and that no service waits on. polyarch then judges
the project itself from `compose ps`: pure here, polled by the executor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# How compose 2.26 words a container that exited, or turned unhealthy, during `up --wait`.
_STOPPED = re.compile(r"container \S+ (?:exited \(\d+\)|is unhealthy)")


def stopped_at_container(message: str) -> bool:
    """Did `up --wait` stop at a container that exited or is unhealthy (rather than for another reason)?"""
    return bool(_STOPPED.search(message))


@dataclass(frozen=True)
class Readiness:
    """Services still starting, and services that failed (service, why)."""

    waiting: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def ready(self) -> bool:
        return not self.waiting and not self.failed


def judge_ready(containers) -> Readiness:
    """From `compose ps` rows (polyarch.planning.uptodate.ContainerState): running and healthy, or exited 0, is ready."""
    waiting: list[str] = []
    failed: list[tuple[str, str]] = []
    for c in containers:
        if c.state == "running" and c.health in ("", "healthy"):
            continue
        if c.state in ("exited", "dead") and c.exit_code == 0:
            continue  # a one-shot job that finished
        if c.state in ("exited", "dead"):
            failed.append((c.service, f"exited with code {c.exit_code}"))
        elif c.health == "unhealthy":
            failed.append((c.service, "is unhealthy"))
        else:
            waiting.append(c.service)
    return Readiness(tuple(dict.fromkeys(waiting)), tuple(dict.fromkeys(failed)))
