"""A service's compose `build:` section, read key by key into what a bake target carries.

Pure: it reads the JSON `docker compose config` prints. Every key of the
compose specification's build section is either carried (as buildx bake
reads it from a compose file, see README "Compose support") or refused by
name, so nothing is dropped without a word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyarch.core.errors import PlatformError, StackError
from polyarch.core.platforms import parse_platform, parse_platforms

# Keys polyarch carries into the bake target.
CARRIED = ("context", "dockerfile", "dockerfile_inline", "args", "target", "additional_contexts", "labels", "tags",
           "cache_from", "cache_to", "secrets", "ssh", "shm_size", "ulimits", "no_cache", "pull", "platforms")
# Keys buildx bake (0.13) cannot pass to a build: a bake file drops them silently.
REFUSED = {
    "network": "buildx bake cannot set a build's network",
    "extra_hosts": "buildx bake cannot add hosts to a build",
    "privileged": "buildx bake cannot grant a build privileges",
    "entitlements": "buildx bake cannot grant a build entitlements",
    "isolation": "isolation applies to Windows containers only",
}
# Values that ask for nothing, so the key is harmless.
_HARMLESS = {"network": ("default", ""), "privileged": (False,), "entitlements": ((), []), "extra_hosts": ((), [], {}),
             "isolation": ("default", "")}


@dataclass(frozen=True)
class BuildSpec:
    """What one service's build section asks of a build, beyond context/Dockerfile/target/args/contexts."""

    dockerfile_inline: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    # Bake's secret specs: "id=NAME,src=FILE" or "id=NAME,env=VARIABLE".
    secrets: tuple[str, ...] = ()
    ssh: tuple[str, ...] = ()
    shm_size: str | None = None
    ulimits: tuple[str, ...] = ()
    no_cache: bool = False
    pull: bool = False
    # build.platforms: the only platforms the build may produce (empty: any).
    platforms: tuple[str, ...] = ()
    # The service's `platform:`: the one platform it runs (and so is built) on.
    platform: str | None = None
    # Where env= secrets are read when the environment lacks them (the stack's .env).
    secret_env_file: Path | None = None


def compose_literal(value: Any) -> str:
    """A value as compose hands it to a build: `compose config` prints a literal `$` as `$$`."""
    return "" if value is None else str(value).replace("$$", "$")


def hcl_literal(text: str) -> str:
    """Text that bake's JSON reader (HCL templates) reads back unchanged: `${` and `%{` escaped."""
    return text.replace("${", "$${").replace("%{", "%%{")


def _size_text(value: Any) -> str:
    """Bytes as buildx writes them (go-units BytesSize: 4 significant digits, binary units)."""
    size = float(value)
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size /= 1024
        i += 1
    return f"{size:.4g}{units[i]}"


def _ulimits(value: dict[str, Any]) -> tuple[str, ...]:
    """`name=soft:hard` per limit, sorted; a single number is both soft and hard (as compose builds)."""
    out = []
    for name, limit in sorted((value or {}).items()):
        if isinstance(limit, dict):
            soft, hard = limit.get("soft", 0), limit.get("hard", 0)
        else:
            soft = hard = limit
        out.append(f"{name}={soft}:{hard}")
    return tuple(out)


def _secrets(service: str, entries: list[Any], declared: dict[str, Any], where: str) -> tuple[str, ...]:
    """Bake secret specs for the build's secrets, from the top-level `secrets:` they name."""
    specs = []
    for entry in entries or []:
        entry = {"source": entry} if isinstance(entry, str) else dict(entry)
        source = str(entry.get("source") or "")
        extra = sorted(k for k in entry if k not in ("source", "target"))
        if extra:
            raise StackError(f"{where}: service '{service}' gives build.secrets '{source}' {', '.join(extra)}, "
                             "which apply to running containers, not builds.",
                             tip=f"Remove {', '.join(extra)} from the build secret of service '{service}'.")
        secret_id = str(entry.get("target") or source)
        top = declared.get(source)
        if top is None:
            raise StackError(f"{where}: service '{service}' uses build.secrets '{source}', which the top-level secrets: does not declare.",
                             tip=f"Declare secrets.{source} with file: or environment:.")
        if top.get("file"):
            specs.append(f"id={secret_id},src={top['file']}")
        elif top.get("environment"):
            specs.append(f"id={secret_id},env={top['environment']}")
        else:
            raise StackError(f"{where}: service '{service}' uses build.secrets '{source}', which is neither a file nor an "
                             "environment variable (an external secret cannot reach a build).",
                             tip=f"Give secrets.{source} a file: or an environment:.")
    return tuple(specs)


def refuse_unsupported(service: str, build: dict[str, Any], where: str) -> None:
    """Refuse a build key polyarch cannot carry, naming the service and the key."""
    for key, value in build.items():
        if key in CARRIED:
            continue
        if key in _HARMLESS and value in _HARMLESS[key]:
            continue
        reason = REFUSED.get(key, "polyarch does not know this key")
        raise StackError(f"{where}: service '{service}' sets build.{key}, which polyarch cannot honour ({reason}).",
                         tip=f"Remove build.{key} from service '{service}', or build that image with `docker compose build`.")


def read_spec(service: str, spec: dict[str, Any], build: dict[str, Any], declared_secrets: dict[str, Any], where: str,
              env_file: Path | None = None) -> BuildSpec:
    """Everything a service's build section says beyond the build's identity (context, Dockerfile, target, args)."""
    refuse_unsupported(service, build, where)
    try:
        platforms = parse_platforms(build["platforms"], f"service '{service}' build.platforms") if build.get("platforms") else ()
        platform = parse_platform(spec["platform"], f"service '{service}' platform") if spec.get("platform") else None
    except PlatformError as exc:
        raise StackError(f"{where}: {exc.message}") from None
    if platform and platforms and platform not in platforms:
        raise StackError(f"{where}: service '{service}' runs on {platform}, which its build.platforms ({', '.join(platforms)}) leaves out.",
                         tip=f"Add {platform} to build.platforms of service '{service}', or change its platform:.")
    inline = build.get("dockerfile_inline")
    shm = build.get("shm_size")
    secrets = _secrets(service, build.get("secrets") or [], declared_secrets, where)
    return BuildSpec(
        dockerfile_inline=compose_literal(inline) if inline else None,
        labels=tuple(sorted((str(k), compose_literal(v)) for k, v in (build.get("labels") or {}).items())),
        tags=tuple(compose_literal(t) for t in build.get("tags") or ()),
        cache_from=tuple(compose_literal(c) for c in build.get("cache_from") or ()),
        cache_to=tuple(compose_literal(c) for c in build.get("cache_to") or ()),
        secrets=secrets,
        secret_env_file=env_file if any(",env=" in s for s in secrets) else None,
        ssh=tuple(compose_literal(s) for s in build.get("ssh") or ()),
        shm_size=_size_text(shm) if shm not in (None, "", 0, "0") else None,
        ulimits=_ulimits(build.get("ulimits") or {}),
        no_cache=bool(build.get("no_cache")),
        pull=bool(build.get("pull")),
        platforms=platforms,
        platform=platform,
    )


def from_refs(text: str) -> list[str]:
    """The image references a Dockerfile's FROM lines name (stage names and ARG-made names included)."""
    refs = []
    for line in text.splitlines():
        match = re.match(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", line, re.IGNORECASE)
        if match:
            refs.append(match.group(1))
    return refs


def dockerfile_text(dockerfile: Path, inline: str | None) -> str:
    return inline if inline is not None else dockerfile.read_text(encoding="utf-8", errors="replace")


def build_platforms(service: str, spec: BuildSpec, wanted: tuple[str, ...], host: bool) -> tuple[str, ...]:
    """The platforms one image is built for when a task wants `wanted`.

    A host build (one platform, to run here) follows a service pinned with
    `platform:`; any other wanted platform must be one build.platforms allows.
    """
    if host and spec.platform:
        return (spec.platform,)
    allowed = spec.platforms or ((spec.platform,) if spec.platform else ())
    outside = [p for p in wanted if allowed and p not in allowed]
    if outside:
        what = "build.platforms" if spec.platforms else "platform:"
        raise StackError(f"Service '{service}' is built for {', '.join(allowed)} only (its {what}), "
                         f"but this task builds it for {', '.join(outside)}.",
                         tip=f"Leave {', '.join(outside)} out (--platforms), or add it to build.platforms of service '{service}'.")
    return wanted
