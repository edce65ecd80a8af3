"""Platform names: parsing user input and detecting the host's platform.

Every per-platform fact (spellings, machine names, file-name arch, uname,
QEMU handler) is one row of PLATFORMS; other modules read them from here.
Pure functions, no docker. Every place a platform list comes in (flags,
environment variables, the stack description) goes through `parse_platforms`.
"""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass

from polyarch.core.errors import PlatformError


@dataclass(frozen=True)
class PlatformFacts:
    """What polyarch knows of one platform, in one row."""

    name: str  # the canonical OCI platform
    arch: str  # the short name in file names (bundle names, digest files)
    uname: str  # what `uname -m` prints inside a container of it
    qemu: str  # the name QEMU's binfmt_misc handler registers under
    aliases: tuple[str, ...]  # other spellings users and tools write
    machines: tuple[str, ...]  # what `platform.machine()` or the engine's architecture may say


# Every platform polyarch accepts, in the order it lists them.
PLATFORMS: tuple[PlatformFacts, ...] = (
    PlatformFacts("linux/amd64", "amd64", "x86_64", "qemu-x86_64",
                  ("amd64", "x86_64", "linux/x86_64", "linux/amd64/v1"), ("x86_64", "amd64", "x64")),
    PlatformFacts("linux/arm64", "arm64", "aarch64", "qemu-aarch64",
                  ("arm64", "aarch64", "linux/aarch64", "linux/arm64/v8"), ("aarch64", "arm64", "armv8")),
    PlatformFacts("linux/arm/v7", "armv7", "armv7l", "qemu-arm",
                  ("arm/v7", "armv7", "linux/arm"), ("armv8l", "armv7l", "armv7", "armhf")),
    PlatformFacts("linux/arm/v6", "armv6", "armv6l", "qemu-arm", ("arm/v6",), ("armv6l",)),
    PlatformFacts("linux/386", "386", "i686", "qemu-i386", ("386", "i386"), ("i386", "i486", "i586", "i686", "x86")),
    PlatformFacts("linux/ppc64le", "ppc64le", "ppc64le", "qemu-ppc64le", ("ppc64le",), ("ppc64le",)),
    PlatformFacts("linux/s390x", "s390x", "s390x", "qemu-s390x", ("s390x",), ("s390x",)),
    PlatformFacts("linux/riscv64", "riscv64", "riscv64", "qemu-riscv64", ("riscv64",), ("riscv64",)),
)

_BY_NAME: dict[str, PlatformFacts] = {p.name: p for p in PLATFORMS}
KNOWN_PLATFORMS: tuple[str, ...] = tuple(_BY_NAME)
MACHINE_TO_PLATFORM: dict[str, str] = {m: p.name for p in PLATFORMS for m in p.machines}
_ALIASES: dict[str, str] = {a: p.name for p in PLATFORMS for a in p.aliases}
QEMU_NAMES: dict[str, str] = {p.name: p.qemu for p in PLATFORMS}

VALID_FORMS = (
    "a comma- or space-separated list such as 'linux/amd64,linux/arm64'; "
    "each entry one of " + ", ".join(KNOWN_PLATFORMS)
    + " (shorthands such as 'amd64', 'arm64' and 'linux/arm64/v8' work too)"
)


def normalize_platform(text: str) -> str:
    """Return the canonical form of one platform name, or raise PlatformError."""
    key = text.strip().lower()
    if key in KNOWN_PLATFORMS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    raise PlatformError(f"'{text.strip()}' is not a platform polyarch knows. Use {VALID_FORMS}.")


def parse_platforms(value: str | list[str] | tuple[str, ...], source: str = "the platform list") -> tuple[str, ...]:
    """Parse a platform list from any source into canonical names, keeping order.

    `source` names where the value came from, for the error message.
    """
    if isinstance(value, str):
        parts = value.replace(",", " ").split()
    else:
        parts = [p for item in value for p in str(item).replace(",", " ").split()]
    if not parts:
        raise PlatformError(f"{source} is empty. Give {VALID_FORMS}.")
    seen: list[str] = []
    for part in parts:
        try:
            canonical = normalize_platform(part)
        except PlatformError as exc:
            raise PlatformError(f"In {source}: {exc}") from None
        if canonical not in seen:
            seen.append(canonical)
    return tuple(seen)


def parse_platform(value: str, source: str = "the platform") -> str:
    """Parse exactly one platform."""
    platforms = parse_platforms(value, source)
    if len(platforms) != 1:
        raise PlatformError(f"{source} must name one platform, not {len(platforms)} ({', '.join(platforms)}).")
    return platforms[0]


def platform_for_machine(machine: str) -> str:
    """Map a machine name (`platform.machine()`, the engine's arch) to a platform."""
    key = machine.strip().lower()
    if key in MACHINE_TO_PLATFORM:
        return MACHINE_TO_PLATFORM[key]
    raise PlatformError(
        f"The machine type '{machine}' is not one polyarch can map to a container platform. "
        f"Known machine types: {', '.join(sorted(MACHINE_TO_PLATFORM))}. Pass --platform to choose one."
    )


def described_platform(described: dict) -> str | None:
    """The platform a manifest entry's `platform` (or an image config) describes; None for an attestation's unknown/unknown."""
    os_name = described.get("os")
    if not os_name or os_name == "unknown":
        return None
    return platform_from_parts(os_name, described.get("architecture", "unknown"), described.get("variant"))


def platform_from_parts(os_name: str, arch: str, variant: str | None = None) -> str:
    """The platform an image or manifest entry names: 'linux/arm64', or 'linux/arm/v7' with a variant.

    arm64's 'v8' variant is dropped: registries and engines write it or not,
    and polyarch calls both plain linux/arm64.
    """
    if arch == "arm64" and variant == "v8":
        variant = None
    return f"{os_name}/{arch}" + (f"/{variant}" if variant else "")


def arch_name(platform: str) -> str:
    """Short arch name for file names: 'linux/arm64' -> 'arm64'."""
    return _BY_NAME[platform].arch


def uname_for(platform: str) -> str:
    """What `uname -m` reports in a container of this platform."""
    return _BY_NAME[platform].uname


@dataclass(frozen=True)
class HostPlatform:
    """The platform chosen for host builds, and a sentence saying why."""

    platform: str
    reason: str
    warning: str | None = None


def choose_host_platform(
    machine: str | None = None,
    engine_arch: str | None = None,
    forced: str | None = None,
) -> HostPlatform:
    """Decide which platform host-scoped tasks build and pull for.

    `machine` is what Python reports (default: `platform.machine()`);
    `engine_arch` is what the Docker engine reports, when known. They differ
    under Rosetta or with a remote DOCKER_HOST; the engine wins, because it is
    where containers run. `forced` (from --platform) overrides both.
    """
    machine = machine if machine is not None else _platform.machine()
    if forced:
        chosen = parse_platform(forced, "--platform")
        return HostPlatform(chosen, f"--platform asked for {chosen}")
    if engine_arch:
        remote = platform_for_machine(engine_arch)
        try:
            local = platform_for_machine(machine)
        except PlatformError:
            local = "unknown"
        if remote != local:
            return HostPlatform(
                remote,
                f"the Docker engine reports '{engine_arch}' -> {remote}",
                warning=(
                    f"platform.machine() said '{machine}' ({local}) but the Docker engine runs on "
                    f"'{engine_arch}' ({remote}). polyarch builds for the engine's platform, because "
                    f"that is where containers run (Rosetta or a remote DOCKER_HOST explain the gap). "
                    f"Pass --platform to choose otherwise."
                ),
            )
        return HostPlatform(local, f"platform.machine() said '{machine}' -> {local}")
    local = platform_for_machine(machine)
    return HostPlatform(local, f"platform.machine() said '{machine}' -> {local}")
