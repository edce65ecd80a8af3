"""Pure readers of what docker, compose and buildx print (JSON and text), into polyarch's records.

Nothing here runs docker: each function takes the command's output, so each
is tested on recorded output (tests/recorded/docker/).
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from polyarch.adapters.docker.models import ContainerState, EngineInfo, ImageIndex
from polyarch.core.platforms import described_platform, platform_from_parts

ATTESTATION_MANIFEST = "attestation-manifest"


# -- compose --------------------------------------------------------------------


def compose_labels(text: str) -> dict[str, str]:
    """`compose ps` joins labels with commas, and values hold commas too: a piece without '=' belongs to the one before."""
    pieces: list[str] = []
    for piece in text.split(","):
        if "=" in piece or not pieces:
            pieces.append(piece)
        else:
            pieces[-1] += "," + piece
    return dict(piece.split("=", 1) for piece in pieces if "=" in piece)


def compose_rows(listing: str) -> list[dict[str, Any]]:
    """`compose ps --format json` output as one dict per container.

    Compose prints one JSON object per line (2.21+) or one array (older).
    """
    text = listing.strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def containers(listing: str, named: dict[str, str]) -> list[ContainerState]:
    """`compose ps --format json` output as ContainerState rows; `named` gives each service's image name."""
    found = []
    for row in compose_rows(listing):
        labels = compose_labels(row.get("Labels") or "")
        found.append(ContainerState(
            service=row.get("Service", ""),
            config_hash=labels.get("com.docker.compose.config-hash", ""),
            image_name=named.get(row.get("Service", ""), row.get("Image", "")),
            image_id=labels.get("com.docker.compose.image", ""),
            state=row.get("State", ""),
            health=row.get("Health", "") or "",
            exit_code=int(row.get("ExitCode") or 0),
            depends_on=tuple(e for e in labels.get("com.docker.compose.depends_on", "").split(",") if e),
        ))
    return found


def config_hashes(text: str) -> dict[str, str]:
    """`compose config --hash '*'` output: service -> compose's config hash."""
    pairs = dict(line.split(None, 1) for line in text.splitlines() if line.strip())
    return {service: value.strip() for service, value in pairs.items()}


def service_images(config: dict[str, Any], project: str) -> dict[str, str]:
    """The image each service of `compose config --format json` names.

    `ps` shows an image ID once its name moved to a newer build, so the name
    is taken from the config; a service without `image:` runs compose's own
    name for its build.
    """
    services = config.get("services") or {}
    return {name: spec.get("image") or f"{project}-{name}" for name, spec in services.items()}


def service_replicas(config: dict[str, Any]) -> dict[str, int]:
    """How many containers each service of `compose config --format json` runs."""
    services = config.get("services") or {}
    return {name: int((spec.get("deploy") or {}).get("replicas") or spec.get("scale") or 1) for name, spec in services.items()}


# -- the engine and its builder ---------------------------------------------------


def engine_info(info: Any) -> EngineInfo:
    """`docker info` (python-on-whales' SystemInfo) as EngineInfo."""
    status = dict((pair[0], pair[1]) for pair in (info.driver_status or []) if len(pair) == 2)
    containerd = "containerd" in status.get("driver-type", "") or (info.driver or "").startswith("overlayfs")
    registries = info.registry_config or {}
    if not isinstance(registries, dict):
        registries = getattr(registries, "model_dump", lambda **_: {})(by_alias=True)
    return EngineInfo(info.architecture or "", info.os_type or "", info.server_version or "", containerd,
                      tuple(registries.get("Mirrors") or ()))


def builder_platforms(node_platforms: Iterable[Iterable[object] | None]) -> tuple[str, ...]:
    """Every platform a builder's nodes list, each once, in the order listed."""
    platforms: list[str] = []
    for listed in node_platforms:
        for platform in listed or []:
            if str(platform) not in platforms:
                platforms.append(str(platform))
    return tuple(platforms)


# -- registry manifests (`buildx imagetools inspect`) ------------------------------


def index_platforms(manifest: dict[str, Any]) -> list[str]:
    """The platforms a manifest list's entries serve, attestation entries (unknown/unknown) left out."""
    platforms: list[str] = []
    for entry in manifest.get("manifests") or []:
        name = described_platform(entry.get("platform") or {})
        if name is not None and name not in platforms:
            platforms.append(name)
    return platforms


def single_manifest(manifest: dict[str, Any]) -> bool:
    """Is this one platform's own image manifest (no list)?"""
    return "manifests" not in manifest and "manifest" in manifest.get("mediaType", "")


def one_platform_index(manifest: dict[str, Any]) -> bool:
    """Is this (an `imagetools inspect` .Manifest or raw index) one platform's image manifest plus its attestations?

    That is what BuildKit pushes for one platform with provenance or an SBOM:
    one entry of a real platform, every other entry an attestation manifest
    (`unknown/unknown`) whose reference digest is that image.
    """
    entries = manifest.get("manifests") or []
    images = [e for e in entries if (e.get("annotations") or {}).get("vnd.docker.reference.type") != ATTESTATION_MANIFEST]
    if len(images) != 1 or described_platform(images[0].get("platform") or {}) is None:
        return False
    return all((e.get("annotations") or {}).get("vnd.docker.reference.digest") == images[0].get("digest")
               for e in entries if e is not images[0])


def image_config(data: Any) -> dict[str, Any]:
    """`imagetools inspect --format '{{json .Image}}'` of a one-platform ref as one image config.

    For an index of one image, imagetools keys the config by platform: that image's config is taken.
    """
    if isinstance(data, dict) and "config" not in data and "architecture" not in data and len(data) == 1:
        data = next(iter(data.values()))
    return data if isinstance(data, dict) else {}


def image_index(ref: str, manifest: dict[str, Any], config: dict[str, Any] | None) -> ImageIndex:
    """A tag's ImageIndex from its .Manifest and, for one platform's image, its image config (None: not read)."""
    platforms = index_platforms(manifest)
    single = single_manifest(manifest)
    labels: dict[str, str] = {}
    if config is not None:
        if single:
            platforms.append(platform_from_parts(config.get("os", "unknown"), config.get("architecture", "unknown"),
                                                 config.get("variant")))
        labels = (config.get("config") or {}).get("Labels") or {}
    return ImageIndex(ref, manifest.get("digest"), tuple(platforms), dict(manifest.get("annotations") or {}), single,
                      dict(labels), one_platform_index(manifest))


def attestation_kinds(provenance: dict, sbom: dict) -> dict[str, tuple[str, ...]]:
    """What `imagetools inspect`'s .Provenance and .SBOM say, as kinds by platform.

    A list keys both by platform; a single manifest gives them unkeyed ("" here).
    """
    def by_platform(data: dict) -> dict[str, dict]:
        if "SLSA" in data or "SPDX" in data:
            return {"": data}
        return {str(k): v for k, v in data.items() if isinstance(v, dict)}

    kinds: dict[str, list[str]] = {}
    for platform, entry in by_platform(provenance).items():
        slsa = entry.get("SLSA") or {}
        # Only mode=max records the build's full definition (buildConfig).
        kinds.setdefault(platform, []).append("provenance (mode=max)" if "buildConfig" in slsa else "provenance (mode=min)")
    for platform, entry in by_platform(sbom).items():
        if entry:
            kinds.setdefault(platform, []).append("SBOM")
    return {p: tuple(k) for p, k in kinds.items()}
