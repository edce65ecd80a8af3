"""Assembling a validated Stack from each mode's compose config and polyarch.toml.

Services whose build sections are identical are one image; an image-only
service that runs what another service builds is that image too. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from polyarch.core.errors import PlatformError, StackError
from polyarch.core.imageref import REPOSITORY, comparable
from polyarch.core.platforms import parse_platforms
from polyarch.core.suggest import did_you_mean
from polyarch.model.buildspec import dockerfile_text, from_refs
from polyarch.model.compose_builds import RawBuild, check_dockerfile, check_ref, dockerfile_stages, image_names, raw_builds, unused_name
from polyarch.model.modes import mode_roles
from polyarch.model.project import Project
from polyarch.model.settings import ImageSettings, OptionalImage, Settings
from polyarch.model.stack import DEFAULT_PLATFORMS, ImageBuild, Mode, Stack


def build_stack(project: Project, settings: Settings, configs: dict[str, dict[str, Any]],
                files: dict[str, tuple[Path, ...]], project_name: str, name_from: str = "",
                checked_modes: set[str] | None = None) -> Stack:
    """Turn each mode's resolved compose config into a validated Stack (`files` may name more modes than were read).

    `checked_modes`: the modes whose build contexts and Dockerfiles must exist
    (the ones the task builds); None checks every mode and optional image.
    """
    root = project.root
    where = project.describe()
    platforms = _platforms(settings, where)
    roles = mode_roles(settings, files, where)
    raw = {mode_name: raw_builds(config, project_name, f"mode '{mode_name}' ({', '.join(_rel(f, root) for f in files[mode_name])})",
                                 root / settings.project.env_file)
           for mode_name, config in configs.items()}
    identities = list(dict.fromkeys(b.identity() for builds, _, _ in raw.values() for b in builds))
    names = image_names(identities, root)
    if set(configs) == set(files):  # a mode left unread may build the image polyarch.toml names
        _refuse_unknown_images(settings, names, where)
    by_local_name = _builds_by_local_name(raw, roles["prod"])
    checked: set[tuple] = set()
    modes = {}
    for mode_name, (builds, image_only, services) in raw.items():
        context = _ModeContext(settings, names, by_local_name,
                               checked if checked_modes is None or mode_name in checked_modes else None)
        modes[mode_name] = _mode(mode_name, files[mode_name], builds, image_only, services, context)
    optional = _optional_images(project, settings, checked_modes)
    return Stack(project, project_name, settings, platforms, modes, roles, optional, name_from)


@dataclass(frozen=True)
class _ModeContext:
    """What assembling one mode takes from the whole stack."""

    settings: Settings
    # The short image name of each (context, Dockerfile).
    names: dict[tuple[Path, Path], str]
    # Every mode's builds by local name, for image-only services that run one.
    by_local_name: dict[str, RawBuild]
    # Build keys whose context and Dockerfile were checked, shared by the modes; None: this mode checks none.
    checked: set[tuple] | None


def _platforms(settings: Settings, where: str) -> tuple[str, ...]:
    try:
        return parse_platforms(settings.project.platforms, "project.platforms") if settings.project.platforms else DEFAULT_PLATFORMS
    except PlatformError as exc:
        raise StackError(f"{where}: {exc.message}") from None


def _refuse_unknown_images(settings: Settings, names: dict[tuple[Path, Path], str], where: str) -> None:
    """Every images.KEY of polyarch.toml names an image the compose files build."""
    for key in settings.images:
        if key not in names.values():
            raise StackError(f"{where}: images.{key} names no image the compose files build{did_you_mean(key, names.values())} "
                             f"(images: {', '.join(names.values()) or 'none'}).",
                             tip="An image is named after its build context's folder.")


def _builds_by_local_name(raw: dict[str, tuple[list[RawBuild], dict[str, str], list[str]]],
                          prod: str | None) -> dict[str, RawBuild]:
    """Every mode's builds by local name; the prod mode's come first when two modes build under one name."""
    search_order = [m for m in (prod,) if m in raw] + [m for m in raw if m != prod]
    by_local_name: dict[str, RawBuild] = {}
    for mode_name in search_order:
        for b in raw[mode_name][0]:
            by_local_name.setdefault(comparable(b.local_name), b)
    return by_local_name


def _mode(name: str, files: tuple[Path, ...], builds: list[RawBuild], image_only: dict[str, str], services: list[str],
          context: _ModeContext) -> Mode:
    """One mode: its images (services whose builds are alike are one image) and its third-party images."""
    where = f"mode '{name}'"
    builds, third_party = _resolve_image_only(builds, image_only, context.by_local_name, where)
    groups: dict[tuple, list[RawBuild]] = {}
    for b in builds:
        groups.setdefault(b.key(), []).append(b)
    _refuse_shared_names(groups, where)
    images = _link_siblings(_images(groups, context, where), where)
    local = {comparable(n) for i in images for n in i.local_names}
    for ref in third_party:
        if comparable(ref) in local:
            raise StackError(f"{where}: {ref} is both built by the stack and used as a third-party image.")
    return Mode(name, files, tuple(images), tuple(dict.fromkeys(third_party)), tuple(services))


def _resolve_image_only(builds: list[RawBuild], image_only: dict[str, str], by_local_name: dict[str, RawBuild],
                        where: str) -> tuple[list[RawBuild], list[str]]:
    """The mode's builds plus those its image-only services run (this mode's first); the other images are third-party."""
    resolved = list(builds)
    third_party: list[str] = []
    own = {comparable(b.local_name): b for b in builds}
    for service, ref in image_only.items():
        key = comparable(ref)
        source = own.get(key) or by_local_name.get(key)
        if source is None:
            check_ref(ref, f"{where}: service '{service}' image")
            third_party.append(ref)
            continue
        resolved.append(replace(source, service=service, local_name=ref))
    return resolved, third_party


def _images(groups: dict[tuple, list[RawBuild]], context: _ModeContext, where: str) -> list[ImageBuild]:
    """One image per group of alike builds, each with a bake name unique in the mode."""
    images = []
    used_names: set[str] = set()
    for key, members in groups.items():
        first = members[0]
        if context.checked is not None and key not in context.checked:
            check_dockerfile(first.context, first.dockerfile, first.target, f"{where}: service '{first.service}'",
                             first.spec.dockerfile_inline)
            context.checked.add(key)
        name = context.names[first.identity()]
        # One context can build several targets: NAME, else NAME-TARGET, else NAME-2...
        bake_name = unused_name(name, first.target or "default", used_names)
        used_names.add(bake_name)
        images.append(ImageBuild(
            name=bake_name, context=first.context, dockerfile=first.dockerfile, target=first.target,
            args=first.args, contexts=first.contexts,
            services=tuple(m.service for m in members),
            local_names=tuple(dict.fromkeys([m.local_name for m in members] + [t for m in members for t in m.spec.tags])),
            repository=_repository(context.settings.images.get(name), bake_name),
            spec=first.spec,
        ))
    return images


def _optional_images(project: Project, settings: Settings, checked_modes: set[str] | None) -> tuple[ImageBuild, ...]:
    """polyarch.toml's [optional] images; checked unless the task builds nothing."""
    optional = []
    for key, spec in settings.optional.items():
        context = project.path(spec.context, f"optional.{key}.context")
        dockerfile = context / spec.dockerfile
        if checked_modes is None or checked_modes:
            check_dockerfile(context, dockerfile, spec.target, f"optional.{key}")
        optional.append(ImageBuild(key, context, dockerfile, spec.target, (), (), (), (), _repository(spec, key)))
    return tuple(optional)


def _refuse_shared_names(groups: dict[tuple, list[RawBuild]], where: str) -> None:
    """Two different builds under one image name would overwrite each other: refuse, naming both services."""
    owner: dict[str, RawBuild] = {}
    for members in groups.values():
        for b in members:
            seen = owner.setdefault(comparable(b.local_name), b)
            if seen.key() != b.key():
                raise StackError(f"{where}: services '{seen.service}' and '{b.service}' both name their image {b.local_name}, "
                                 "but build it differently, so one build would overwrite the other.",
                                 tip=f"Give service '{b.service}' its own image: name, or make both build sections alike.")


def _link_siblings(images: list[ImageBuild], where: str) -> list[ImageBuild]:
    """Build an image after the siblings it is built from, as compose does.

    `additional_contexts: NAME: service:OTHER` and a `FROM` naming a sibling's
    local image become bake `target:` contexts, so bake builds the sibling
    first and hands its result over (the rest stays parallel).
    """
    by_service = {s: i for i in images for s in i.services}
    by_local = {comparable(n): i for i in images for n in i.local_names}
    linked = []
    for image in images:
        contexts = dict(image.contexts)
        for key, value in image.contexts:
            if value.startswith("service:"):
                other = by_service.get(value[len("service:"):])
                if other is None:
                    raise StackError(f"{where}: service '{image.services[0]}' takes additional context '{key}' from {value}, "
                                     "which this mode does not build.",
                                     tip="Point service: at a service with a build: section in the same compose files.")
                contexts[key] = f"target:{other.name}"
        # A mode the task does not build may lack its Dockerfiles (a target machine without the source tree).
        readable = image.spec.dockerfile_inline is not None or image.dockerfile.is_file()
        text = dockerfile_text(image.dockerfile, image.spec.dockerfile_inline) if readable else ""
        stages = set(dockerfile_stages(image.dockerfile, inline=text))
        for ref in from_refs(text):
            if ref.lower() in stages or "$" in ref or ref in contexts:
                continue
            other = by_local.get(comparable(ref))
            if other is not None and other.name != image.name:
                contexts[ref] = f"target:{other.name}"
        _refuse_double_links(image, contexts, where)
        linked.append(replace(image, contexts=tuple(sorted(contexts.items()))) if contexts != dict(image.contexts) else image)
    return linked


def _refuse_double_links(image: ImageBuild, contexts: dict[str, str], where: str) -> None:
    """buildx bake 0.13 fails ("unsupported context source target") when one image names a sibling target twice."""
    seen: dict[str, str] = {}
    for key, value in sorted(contexts.items()):
        if value.startswith("target:"):
            if value in seen:
                raise StackError(f"{where}: service '{image.services[0]}' is built from the image of another service twice "
                                 f"(as '{seen[value]}' and as '{key}'), which buildx bake cannot link.",
                                 tip=f"Use one name for it in the Dockerfile: e.g. `FROM {seen[value]}` with the additional context, "
                                 "instead of also naming the sibling's image.")
            seen[value] = key


def _repository(spec: ImageSettings | OptionalImage | None, name: str) -> str:
    repository = (spec.repository if spec else None) or name
    if not REPOSITORY.fullmatch(repository):
        raise StackError(f"The image '{name}' would be published as '{repository}', which is not a valid repository name.",
                         tip=f"Set images.{name}.repository in polyarch.toml.")
    return repository


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
