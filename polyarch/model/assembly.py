"""Assembling a validated Stack from each mode's compose config and polyarch.toml.

Services whose build sections are identical are one image; an image-only
service that runs what another service builds is that image too. Pure.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from polyarch.model.buildspec import dockerfile_text, from_refs
from polyarch.core.errors import PlatformError, StackError
from polyarch.core.platforms import parse_platforms
from polyarch.model.project import Project
from polyarch.core.imageref import REPOSITORY, comparable
from polyarch.model.settings import ImageSettings, OptionalImage, Settings
from polyarch.core.suggest import did_you_mean
from polyarch.model.compose_builds import (
    RawBuild, check_dockerfile, check_ref, dockerfile_stages, image_names, image_slug, raw_builds
)
from polyarch.model.modes import mode_roles
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
    try:
        platforms = parse_platforms(settings.project.platforms, "project.platforms") if settings.project.platforms else DEFAULT_PLATFORMS
    except PlatformError as exc:
        raise StackError(f"{where}: {exc.message}") from None
    roles = mode_roles(settings, files, where)
    raw: dict[str, tuple[list[RawBuild], dict[str, str], list[str]]] = {}
    for mode_name, config in configs.items():
        raw[mode_name] = raw_builds(config, project_name, f"mode '{mode_name}' ({', '.join(_rel(f, root) for f in files[mode_name])})",
                                     root / settings.project.env_file)

    identities = list(dict.fromkeys(b.identity() for builds, _, _ in raw.values() for b in builds))
    names = image_names(identities, root)

    for key in settings.images if set(configs) == set(files) else ():  # a mode left unread may build it
        if key not in names.values():
            raise StackError(f"{where}: images.{key} names no image the compose files build{did_you_mean(key, names.values())} "
                             f"(images: {', '.join(names.values()) or 'none'}).",
                             tip="An image is named after its build context's folder.")

    # Order in which other modes are searched for the build behind an image-only service.
    search_order = [m for m in (roles["prod"],) if m in configs] + [m for m in configs if m != roles["prod"]]
    by_local_name: dict[str, RawBuild] = {}
    for mode_name in search_order:
        for b in raw[mode_name][0]:
            by_local_name.setdefault(comparable(b.local_name), b)

    checked: set[tuple] = set()
    modes = {}
    for mode_name, (builds, image_only, services) in raw.items():
        mode_where = f"mode '{mode_name}'"
        third_party: list[str] = []
        own = {comparable(b.local_name): b for b in builds}
        for service, ref in image_only.items():
            key = comparable(ref)
            source = own.get(key) or by_local_name.get(key)
            if source is None:
                check_ref(ref, f"{mode_where}: service '{service}' image")
                third_party.append(ref)
                continue
            builds.append(replace(source, service=service, local_name=ref))
        groups: dict[tuple, list[RawBuild]] = {}
        for b in builds:
            groups.setdefault(b.key(), []).append(b)
        _refuse_shared_names(groups, mode_where)
        images = []
        used_names: set[str] = set()
        for key, members in groups.items():
            first = members[0]
            if key not in checked and (checked_modes is None or mode_name in checked_modes):
                check_dockerfile(first.context, first.dockerfile, first.target, f"{mode_where}: service '{first.service}'",
                                 first.spec.dockerfile_inline)
                checked.add(key)
            name = names[first.identity()]
            bake_name = name if name not in used_names else f"{name}-{image_slug(first.target or 'default')}"
            n = 2
            while bake_name in used_names:
                bake_name = f"{name}-{n}"
                n += 1
            used_names.add(bake_name)
            images.append(ImageBuild(
                name=bake_name, context=first.context, dockerfile=first.dockerfile, target=first.target,
                args=first.args, contexts=first.contexts,
                services=tuple(m.service for m in members),
                local_names=tuple(dict.fromkeys([m.local_name for m in members] + [t for m in members for t in m.spec.tags])),
                repository=_repository(settings.images.get(name), bake_name),
                spec=first.spec,
            ))
        images = _link_siblings(images, mode_where)
        local = {comparable(n) for i in images for n in i.local_names}
        for ref in third_party:
            if comparable(ref) in local:
                raise StackError(f"{mode_where}: {ref} is both built by the stack and used as a third-party image.")
        modes[mode_name] = Mode(mode_name, files[mode_name], tuple(images),
                                tuple(dict.fromkeys(third_party)), tuple(services))

    optional = []
    for key, spec in settings.optional.items():
        context = project.path(spec.context, f"optional.{key}.context")
        dockerfile = context / spec.dockerfile
        if checked_modes is None or checked_modes:
            check_dockerfile(context, dockerfile, spec.target, f"optional.{key}")
        optional.append(ImageBuild(key, context, dockerfile, spec.target, (), (), (), (), _repository(spec, key)))
    return Stack(project, project_name, settings, platforms, modes, roles, tuple(optional), name_from)


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
        stages = set(dockerfile_stages(image.dockerfile, image.spec.dockerfile_inline)) if readable else set()
        for ref in from_refs(dockerfile_text(image.dockerfile, image.spec.dockerfile_inline)) if readable else ():
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
