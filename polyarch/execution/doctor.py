"""Checks behind `invoke doctor`: each one a verdict, a detail and the fix.

Gathering facts needs the engine; judging them (`judge_*`) is pure so it can be
tested with plain inputs.
"""

from __future__ import annotations

import os
import platform as _platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from polyarch.adapters.cosign import INSTALL_TIP
from polyarch.core.errors import PlatformError, PolyarchError
from polyarch.core.platforms import QEMU_NAMES, choose_host_platform
from polyarch.core.progname import prog

if TYPE_CHECKING:
    from polyarch.adapters.docker.api import EngineAPI

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")

CONTAINERD_FIX = (
    'Turn on the containerd image store: add {"features": {"containerd-snapshotter": true}} to '
    "/etc/docker/daemon.json and restart dockerd (Docker Desktop: Settings > General > "
    '"Use containerd for pulling and storing images"), or create a docker-container builder.'
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def binfmt_state(platform: str, binfmt_dir: Path) -> str:
    """'enabled', 'disabled', 'missing' or 'unknown' (no binfmt_misc on this host)."""
    name = QEMU_NAMES.get(platform)
    if name is None:
        return "missing"
    if not binfmt_dir.is_dir():
        return "unknown"
    entry = binfmt_dir / name
    if not entry.is_file():
        return "missing"
    first = entry.read_text(errors="replace").splitlines()[:1]
    return "enabled" if first == ["enabled"] else "disabled"


def can_build(platform: str, builder_platforms: tuple[str, ...], binfmt_dir: Path = BINFMT_DIR) -> bool:
    """Can this machine build (and run) `platform`: the builder lists it, or its QEMU handler is enabled.

    BuildKit probes emulators once when it starts and on some kernels misses
    one that works (linux/arm/v7 here), so an enabled binfmt_misc handler counts too.
    """
    return platform in builder_platforms or binfmt_state(platform, binfmt_dir) == "enabled"


def require_platform_runs(engine: "EngineAPI", platform: str, native: str) -> None:
    """Fail before building when a foreign platform has no emulator."""
    if platform == native:
        return
    builder = engine.builder()
    if not can_build(platform, builder.platforms):
        raise PlatformError(
            f"This machine cannot build or run {platform}: the builder '{builder.name}' only lists "
            f"{', '.join(builder.platforms) or 'no platforms'}.",
            tip="Register QEMU user emulation (Debian: `apt-get install qemu-user-static binfmt-support`, "
            "or `docker run --privileged --rm tonistiigi/binfmt --install all` where a registry is reachable); "
            f"`{prog()} doctor` checks it.",
        )


def judge_platform(platform: str, native: str, builder_platforms: tuple[str, ...], binfmt: str) -> Check:
    """Can this host build and run `platform`?"""
    name = f"runs {platform}"
    if platform == native:
        return Check(name, True, "native")
    if binfmt == "enabled":
        return Check(name, True, "emulated (QEMU registered in binfmt_misc)")
    if binfmt == "unknown" and platform in builder_platforms:
        return Check(name, True, "emulated (the builder lists it)")
    state = "not registered" if binfmt in ("missing", "unknown") else "registered but disabled"
    return Check(
        name, False, f"QEMU for {platform} is {state}",
        fix=("Debian/Ubuntu: `apt-get install qemu-user-static binfmt-support` then "
             f"`update-binfmts --enable {QEMU_NAMES.get(platform, 'qemu-ARCH')}`; "
             "elsewhere `docker run --privileged --rm "
             "tonistiigi/binfmt --install all`."),
    )


def judge_builder(driver: str, containerd_store: bool, platforms: tuple[str, ...]) -> Check:
    """Can the current builder build several platforms in one call?"""
    listed = ", ".join(platforms) or "none"
    if driver in ("docker-container", "kubernetes", "remote"):
        return Check("multi-platform builder", True, f"{driver} driver; platforms: {listed}")
    if driver == "docker" and containerd_store:
        return Check("multi-platform builder", True, f"docker driver with the containerd image store; platforms: {listed}")
    return Check("multi-platform builder", False, f"{driver} driver without the containerd image store", CONTAINERD_FIX)


def run_checks(engine_factory, platforms: tuple[str, ...], binfmt_dir: Path) -> list[Check]:
    """Gather every check; an engine that does not answer ends the list early."""
    machine = _platform.machine()
    checks: list[Check] = []
    try:
        engine = engine_factory()
        info = engine.info()
    except PolyarchError as exc:
        checks.append(Check("docker engine", False, exc.message.splitlines()[0], exc.tip or ""))
        host = choose_host_platform(machine)
        checks.append(Check("host platform", True, host.reason))
        return checks
    where = os.environ.get("DOCKER_HOST", "local socket")
    checks.append(Check("docker engine", True, f"{info.version} on {info.os_type}/{info.arch} ({where})"))
    host = choose_host_platform(machine, info.arch)
    checks.append(Check("host platform", True, host.reason + (f"; {host.warning}" if host.warning else "")))
    for plugin in ("buildx", "compose"):
        version = engine.plugin_version(plugin)
        checks.append(Check(plugin, bool(version), version or "missing",
                            "" if version else f"Install the docker {plugin} plugin (Debian: docker-{plugin}; Docker Desktop ships it)."))
    builder_platforms: tuple[str, ...] = ()
    try:
        builder = engine.builder()
        builder_platforms = builder.platforms
        checks.append(judge_builder(builder.driver, info.containerd_store, builder.platforms))
    except PolyarchError as exc:
        checks.append(Check("multi-platform builder", False, exc.message.splitlines()[0], exc.tip or ""))
    for p in platforms:
        checks.append(judge_platform(p, host.platform, builder_platforms, binfmt_state(p, binfmt_dir)))
    return checks


def judge_cosign(version: str | None, configured: bool) -> Check | None:
    """cosign matters only when the project signs or checks signatures ([signing] in polyarch.toml)."""
    if not configured:
        return None
    if version is None:
        return Check("cosign", False, "missing, and [signing] in polyarch.toml needs it", INSTALL_TIP)
    return Check("cosign", True, f"{version} (signs and checks without a transparency log when a key pair is used)")
