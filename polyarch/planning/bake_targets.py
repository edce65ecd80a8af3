"""Bake targets from a mode's images, and the host build that dev and airtight plans share. Pure."""

from __future__ import annotations

from polyarch.model.buildspec import build_platforms
from polyarch.model.stack import ImageBuild, Mode
from polyarch.model.fingerprint import ANNOTATION
from polyarch.planning.steps.build import ArgSource, BakeTarget, Build


def arg_sources(image: ImageBuild) -> tuple[ArgSource, ...]:
    """Where the image's build args that compose does not give come from, for the plan's text."""
    return tuple(ArgSource(name, source) for name, source in image.arg_sources)


# Bake-target fields where polyarch's own values come after the compose build section's.
_ADDED = ("labels", "cache_from", "cache_to")


def image_target(image: ImageBuild, platforms: tuple[str, ...], tags: tuple[str, ...], **extra: object) -> BakeTarget:
    """One image's bake target: its compose build section (see polyarch.model.buildspec), plus `extra`.

    `extra` labels and cache settings are added to the compose file's own;
    any other field in `extra` is set as given.
    """
    spec = image.spec
    fields: dict[str, object] = dict(
        name=image.name, context=image.context, dockerfile=image.dockerfile, stage=image.target,
        platforms=platforms, tags=tags, args=image.args, contexts=image.contexts, services=image.services,
        dockerfile_inline=spec.dockerfile_inline, labels=spec.labels, cache_from=spec.cache_from, cache_to=spec.cache_to,
        secrets=spec.secrets, secret_env_file=spec.secret_env_file, ssh=spec.ssh, shm_size=spec.shm_size,
        ulimits=spec.ulimits, pull=spec.pull, no_cache=spec.no_cache, arg_sources=arg_sources(image),
    )
    for key, value in extra.items():
        fields[key] = fields[key] + tuple(value) if key in _ADDED else value  # type: ignore[operator, arg-type]
    return BakeTarget(**fields)  # type: ignore[arg-type]


def task_platforms(image: ImageBuild, wanted: tuple[str, ...], host: bool) -> tuple[str, ...]:
    """The platforms a task builds one image for: a pinned service's own, and only those build.platforms allows."""
    return build_platforms(image.services[0] if image.services else image.name, image.spec, wanted, host)


def host_build(mode: Mode, platform: str, no_cache: bool = False, images: tuple[ImageBuild, ...] | None = None,
               fingerprints: dict[str, str] | None = None, always: bool = False) -> Build:
    """Build the mode's first-party images (or some of them) for one platform and load them under their local names.

    With `fingerprints` (image -> input hash), each image is labelled with
    its fingerprint, and an image whose local names already carry the same
    label is not built again when the plan runs, unless `always` (`rebuild`).
    """
    chosen = mode.images if images is None else images
    fingerprints = {} if no_cache and not always else (fingerprints or {})
    # No provenance attestation on local builds: it differs on every build, so
    # the image ID would change and compose would recreate every container
    # even when nothing changed.
    targets = tuple(
        image_target(image, task_platforms(image, (platform,), host=True), image.local_names, provenance=False, fingerprint=fingerprints.get(image.name),
                     labels=((ANNOTATION, fingerprints[image.name]),) if image.name in fingerprints else ())
        for image in chosen)
    return Build(targets=targets, load=True, no_cache=no_cache, skip_unchanged=bool(fingerprints) and not always)
