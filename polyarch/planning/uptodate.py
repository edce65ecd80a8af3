"""Is a running compose project already what `compose up` would make it?

Pure: judges data the engine module reads (compose's own per-service config
hashes, the project's containers, the local image IDs). When it is, `dev`
skips `compose up` altogether, so nothing is recreated or restarted, a
one-shot job that completed is not run again, and no health wait is spent.
"""

from __future__ import annotations

from dataclasses import dataclass

# `compose ps` rows as the engine reads them (the type lives beside the engine, which never imports this layer).
from polyarch.adapters.docker.models import ContainerState


def _completed_jobs(containers: list[ContainerState]) -> set[str]:
    """Services others wait for with `condition: service_completed_successfully`."""
    jobs = set()
    for container in containers:
        for entry in container.depends_on:
            parts = entry.split(":")
            if len(parts) >= 2 and parts[1] == "service_completed_successfully":
                jobs.add(parts[0])
    return jobs


@dataclass(frozen=True)
class Verdict:
    """What `compose up` would change: nothing, some services (each with why), or the whole project."""

    stale: tuple[tuple[str, str], ...] = ()
    whole: str | None = None

    @property
    def current(self) -> bool:
        return not self.stale and self.whole is None

    def services(self) -> tuple[str, ...]:
        return tuple(service for service, _ in self.stale)

    def describe(self) -> str:
        if self.whole:
            return self.whole
        return "; ".join(why for _, why in self.stale)


def judge(hashes: dict[str, str], containers: list[ContainerState], image_ids: dict[str, str],
          replicas: dict[str, int] | None = None) -> Verdict:
    """Which services compose would create, recreate or start, judged from compose's own hashes and labels.

    `hashes` is compose's config hash per service of the mode, `image_ids`
    the engine's current image ID per image name the services use, and
    `replicas` how many containers each service should have (compose's hash
    leaves the count out).
    """
    by_service: dict[str, list[ContainerState]] = {}
    for container in containers:
        by_service.setdefault(container.service, []).append(container)
    orphans = sorted(set(by_service) - set(hashes))
    if orphans:
        return Verdict(whole=f"containers of services this mode does not run: {', '.join(orphans)}")
    jobs = _completed_jobs(containers)
    stale: list[tuple[str, str]] = []
    for service, wanted in sorted(hashes.items()):
        why = _why_stale(service, wanted, by_service.get(service, []), image_ids, jobs)
        count = (replicas or {}).get(service, 1)
        if not why and len(by_service.get(service, [])) != count:
            why = f"{service} should run {count} container{'s' if count != 1 else ''}, not {len(by_service[service])}"
        if why:
            stale.append((service, why))
    return Verdict(stale=tuple(stale))


def _why_stale(service: str, wanted: str, found: list[ContainerState], image_ids: dict[str, str], jobs: set[str]) -> str | None:
    if not found:
        return f"{service} has no container"
    for container in found:
        if container.config_hash != wanted:
            return f"{service}'s configuration changed"
        if image_ids.get(container.image_name) != container.image_id:
            return f"{service}'s image {container.image_name} changed"
        if container.state == "running":
            if container.health not in ("", "healthy"):
                return f"{service} is {container.health}"
        elif not (container.state == "exited" and container.exit_code == 0 and service in jobs):
            return f"{service} is {container.state}"
    return None
