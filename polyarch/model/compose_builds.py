"""The build sections and image names one mode's compose config holds, and checks on them.

Pure: `docker compose config` output (read by the engine) comes in as plain data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from polyarch.core.errors import StackError
from polyarch.core.imageref import ImageRefError
from polyarch.core.imageref import parse as parse_ref
from polyarch.core.suggest import did_you_mean
from polyarch.model.buildspec import BuildSpec, compose_literal, dockerfile_text, read_spec
from polyarch.model.settings_rules import hide_credentials


def check_ref(ref: str, where: str) -> str:
    """Refuse an image name Docker would refuse, naming where it came from."""
    try:
        parse_ref(ref)
    except ImageRefError as exc:
        if exc.part != "host":
            raise StackError(f"{where}: '{hide_credentials(ref)}' is {exc.reason}.") from None
        raise StackError(f"{where}: the registry part of '{ref}' is unusable: {exc.reason}.",
                         tip="Correct the registry host or port in the image name.") from None
    return ref


def well_formed(ref: str) -> bool:
    """Whether `ref` is an image name by its shape (a wrong registry port still counts: check_ref says so later)."""
    try:
        parse_ref(ref)
    except ImageRefError as exc:
        return exc.part == "host"
    return True


def default_image_name(project: str, service: str) -> str:
    """The name compose gives a built image when the service names none."""
    return f"{project}-{service}".lower()


@dataclass(frozen=True)
class RawBuild:
    service: str
    context: Path
    dockerfile: Path
    target: str | None
    args: tuple[tuple[str, str], ...]
    contexts: tuple[tuple[str, str], ...]
    local_name: str
    spec: BuildSpec = BuildSpec()

    def key(self) -> tuple:
        # Extra tags are more names for one image, not another build.
        return (self.context, self.dockerfile, self.target, self.args, self.contexts, replace(self.spec, tags=()))

    def identity(self) -> tuple[Path, Path]:
        """What the image's short name is made from: context and Dockerfile (an inline one is the service's own)."""
        if self.spec.dockerfile_inline is not None:
            return self.context, self.context / f"{self.service}-inline"
        return self.context, self.dockerfile


def raw_builds(config: dict[str, Any], project: str, where: str, env_file: Path | None = None) -> tuple[list[RawBuild], dict[str, str], list[str]]:
    """From one mode's compose config: builds, image-only services (service -> ref), all service names."""
    services = config.get("services") or {}
    builds: list[RawBuild] = []
    image_only: dict[str, str] = {}
    for service, spec in services.items():
        spec = spec or {}
        build = spec.get("build")
        image = spec.get("image")
        if build:
            context = Path(build.get("context") or ".")
            if "://" in str(build.get("context") or "") or str(build.get("context", "")).startswith("git@"):
                raise StackError(f"{where}: service '{service}' builds from a remote context ({build.get('context')}); polyarch builds local folders only.")
            dockerfile = build.get("dockerfile") or "Dockerfile"
            spec_extra = read_spec(service, spec, build, config.get("secrets") or {}, where, env_file)
            dockerfile_path = Path(dockerfile) if Path(dockerfile).is_absolute() else context / dockerfile
            args = tuple(sorted((str(k), compose_literal(v)) for k, v in (build.get("args") or {}).items()))
            contexts = tuple(sorted((str(k), str(v)) for k, v in (build.get("additional_contexts") or {}).items()))
            name = image or default_image_name(project, service)
            check_ref(name, f"{where}: service '{service}' image")
            if "@" in name:
                raise StackError(f"{where}: service '{service}' builds its image and names it by digest ({name}); "
                                 "a build cannot produce a given digest, so buildx would refuse the name later.",
                                 tip=f"Drop the @sha256:... part from the image: of service '{service}', or remove its build: section to run that exact image.")
            builds.append(RawBuild(service, context, dockerfile_path, build.get("target") or None, args, contexts, name, spec_extra))
        elif image:
            image_only[service] = str(image)
        else:
            raise StackError(f"{where}: service '{service}' has neither build nor image.")
    return builds, image_only, list(services)


def dockerfile_stages(dockerfile: Path, inline: str | None = None) -> list[str]:
    """The stage names a Dockerfile (or inline text) declares (`FROM ... AS name`), lowercased as BuildKit does."""
    stages = []
    for line in dockerfile_text(dockerfile, inline).splitlines():
        match = re.match(r"^\s*FROM\s+(?:--\S+\s+)*\S+\s+AS\s+(\S+)\s*$", line, re.IGNORECASE)
        if match:
            stages.append(match.group(1).lower())
    return stages


def check_dockerfile(context: Path, dockerfile: Path, target: str | None, where: str, inline: str | None = None) -> None:
    """The context is a folder, the Dockerfile exists (or is inline), and the target is one of its stages."""
    if not context.is_dir():
        raise StackError(f"{where}: the build context {context} is not a folder.")
    if inline is None and not dockerfile.is_file():
        raise StackError(f"{where}: the Dockerfile {dockerfile} does not exist.")
    if target is not None:
        stages = dockerfile_stages(dockerfile, inline)
        if target.lower() not in stages:
            raise StackError(f"{where}: target '{target}' is not a stage of {'the inline Dockerfile' if inline is not None else dockerfile}"
                             f"{did_you_mean(target, stages)} (stages: {', '.join(stages) or 'none, it is single-stage'}).")


def image_names(identities: list[tuple[Path, Path]], root: Path) -> dict[tuple[Path, Path], str]:
    """A short, stable name per (context, Dockerfile): the context folder's name, made unique."""
    names: dict[tuple[Path, Path], str] = {}
    taken: set[str] = set()
    for identity in identities:
        context, dockerfile = identity
        base = image_slug(context.name if context != root else root.name)
        name = unused_name(base, dockerfile.name, taken)
        taken.add(name)
        names[identity] = name
    return names


def unused_name(base: str, second_choice: str, taken: set[str]) -> str:
    """`base`, else `base-SECOND_CHOICE` (as a slug), else `base-2`, `base-3`... whichever is not taken yet."""
    name = base if base not in taken else f"{base}-{image_slug(second_choice)}"
    n = 2
    while name in taken:
        name = f"{base}-{n}"
        n += 1
    return name


def image_slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "image"
