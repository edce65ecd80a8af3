"""The stack: what each mode's compose files build and run, plus polyarch.toml.

Compose is the source of truth. For every mode, `docker compose config` (read
by the engine module and handed in here as plain data) says which services
build what and under which local names; services whose build sections are
identical are one image. `polyarch.toml` adds only what compose cannot say.
Everything here is pure: it turns data into a validated `Stack`.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from polyarch.model.buildspec import BuildSpec, compose_literal, dockerfile_text, from_refs, read_spec
from polyarch.core.errors import PlatformError, StackError
from polyarch.core.platforms import parse_platforms
from polyarch.model.project import COMPOSE_NAMES, Project, compose_variable
from polyarch.core.imageref import REPOSITORY, ImageRefError, comparable
from polyarch.core.imageref import parse as parse_ref
from polyarch.model.settings import ImageSettings, OptionalImage, Settings, hide_credentials

DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")
ROLES = ("dev", "prod", "airtight")
# Zero-config modes of a project in compose's override shape (else one "default" mode).
ZERO_CONFIG_ROLES = {"dev": "dev", "prod": "prod", "airtight": "prod"}
# What each task group uses a mode for, for messages.
ROLE_TASKS = {"dev": "dev, build, rebuild, restart", "prod": "prod, prod-build, deploy-build, publish-*",
              "airtight": "package-airtight, prod-airtight"}


@dataclass(frozen=True)
class ImageBuild:
    """One first-party image as a mode builds it, and the local names it runs under."""

    name: str
    context: Path
    dockerfile: Path
    target: str | None
    args: tuple[tuple[str, str], ...]
    contexts: tuple[tuple[str, str], ...]
    services: tuple[str, ...]
    local_names: tuple[str, ...]
    repository: str
    # Where each build arg comes from, for the plan's text (name, source); compose's own args are not listed.
    arg_sources: tuple[tuple[str, str], ...] = ()
    # The rest of the compose build section (secrets, labels, platforms, inline Dockerfile...).
    spec: BuildSpec = field(default=BuildSpec())

    def needs(self) -> tuple[str, ...]:
        """The sibling images (bake names) this one is built from, through `target:` named contexts."""
        return tuple(v[len("target:"):] for _, v in self.contexts if v.startswith("target:"))


@dataclass(frozen=True)
class Mode:
    """How the stack runs in one mode: compose files, first-party builds, third-party images."""

    name: str
    files: tuple[Path, ...]
    images: tuple[ImageBuild, ...]
    third_party: tuple[str, ...]
    services: tuple[str, ...]
    # Read without interpolation (publishing): (service, variable, message) of
    # each `${VAR:?message}` a build section or image name needs and nothing
    # sets, and (service, variable) of each plain `${VAR}` that was unset.
    unresolved: tuple[tuple[str, str, str], ...] = ()
    unset: tuple[tuple[str, str], ...] = ()
    # (service, variable) of each variable a build section uses that only .env sets, which a
    # release does not read (project.release_env lists those it may).
    withheld: tuple[tuple[str, str], ...] = ()

    def require_resolved(self, where: str = "this environment") -> None:
        """Refuse, before anything runs, a build that needs a variable nothing sets."""
        if not self.unresolved:
            return
        names = list(dict.fromkeys(v for _, v, _ in self.unresolved))
        lines = [f"{var} (service '{service}' in {self.file_using(var)}{': ' + message if message else ''})"
                 for service, var, message in self.unresolved]
        only_env = [name for name in names if name in {v for _, v in self.withheld}]
        raise StackError(
            f"Mode '{self.name}' builds with variable{'s' if len(names) > 1 else ''} "
            f"that {where} does not set: {'; '.join(lines)}"
            + (f" ({', '.join(only_env)} only in .env, which a release does not read)" if only_env else "") + ".",
            tip=f"Set {', '.join(names)} in the environment (in GitHub Actions: map {'them' if len(names) > 1 else 'it'} from vars. "
                "or secrets. with polyarch.toml's [workflows] env), list it in project.release_env to build with this "
                "machine's .env value, or give a default: ${VAR:-value}.")

    def file_using(self, variable: str) -> str:
        """The mode's compose files that write `${variable` (for messages; all of them when none does)."""
        pattern = re.compile(r"\$\{" + re.escape(variable) + r"\b")
        found = [f for f in self.files if f.is_file() and pattern.search(f.read_text(encoding="utf-8", errors="replace"))]
        return ", ".join(f.name for f in (found or self.files))

    def local_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for image in self.images for n in image.local_names))

    def image(self, name: str) -> ImageBuild:
        for image in self.images:
            if image.name == name:
                return image
        raise StackError(f"Mode '{self.name}' builds no image '{name}' (it builds: {', '.join(i.name for i in self.images) or 'none'}).")

    def images_for(self, services: tuple[str, ...]) -> tuple[ImageBuild, ...]:
        """The builds that the named services run (each service is checked)."""
        unknown = [s for s in services if s not in self.services]
        if unknown:
            raise StackError(f"Mode '{self.name}' has no service {', '.join(repr(s) for s in unknown)}{_did_you_mean(unknown[0], self.services)}.",
                             tip=f"Services: {', '.join(self.services)}.")
        chosen = [i.name for i in self.images if set(i.services) & set(services)]
        # An image built from a sibling's needs that sibling in the same bake call.
        for name in chosen:
            chosen += [n for n in self.image(name).needs() if n not in chosen]
        return tuple(i for i in self.images if i.name in chosen)


@dataclass(frozen=True)
class Stack:
    """A project adopted as it is: its compose modes and polyarch.toml settings."""

    project: Project
    name: str
    settings: Settings
    platforms: tuple[str, ...]
    modes: dict[str, Mode]
    roles: dict[str, str | None]
    optional: tuple[ImageBuild, ...] = field(default=())
    # Where the name came from (polyarch.toml, COMPOSE_PROJECT_NAME, `name:`, the folder), for messages.
    name_from: str = ""
    # Modes of other tasks whose compose files could not be read (mode -> why); see Scope.
    unread: dict[str, StackError] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def source(self) -> Path:
        """The file that describes the stack: polyarch.toml, else the first compose file."""
        return self.project.settings_file or self.project.compose_files[0]

    @property
    def registry(self) -> str:
        return self.settings.project.registry or ""

    @property
    def pull_registry(self) -> str:
        return self.settings.project.pull_registry or ""

    @property
    def env_file(self) -> Path:
        return self.root / self.settings.project.env_file

    @property
    def env_example(self) -> Path:
        return self.root / self.settings.project.env_example

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self.settings.project.secrets)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.settings.project.required)

    @property
    def urls(self) -> dict[str, tuple[str, str]]:
        return {label: (pair[0], pair[1]) for label, pair in self.settings.project.urls.items()}

    @property
    def values_file(self) -> Path | None:
        value = self.settings.project.values_file
        return self.root / value if value else None

    def mode(self, name: str) -> Mode:
        if name in self.unread:
            raise self.unread[name]
        if name not in self.modes:
            known = [*self.modes, *self.unread]
            raise StackError(f"The stack has no mode '{name}'{_did_you_mean(name, known)} (modes: {', '.join(known)}).",
                             tip="Name a mode of polyarch.toml's [modes] tables, or leave --mode out.")
        return self.modes[name]

    def role(self, role: str) -> Mode:
        """The mode a group of tasks uses (dev, prod or airtight)."""
        name = self.roles.get(role)
        if name is None:
            raise StackError(f"{self.source}: no mode is named '{role}', so polyarch does not know which mode {ROLE_TASKS[role]} use.",
                             tip=f"Add `[tasks]` with `{role} = \"MODE\"` to polyarch.toml (modes: {', '.join([*self.modes, *self.unread])}).")
        return self.mode(name)

    def all_local_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for mode in self.modes.values() for n in mode.local_names()))

    def every_profile_local_names(self, read_config: "ConfigReader") -> tuple[str, ...]:
        """Every mode's local names, services under any compose profile included (`read_config` reads every profile)."""
        names = list(self.all_local_names())
        for mode in self.modes.values():
            builds, _, _ = _raw_builds(read_config(mode.files, self.name), self.name, f"mode '{mode.name}'")
            names += [b.local_name for b in builds]
        return tuple(dict.fromkeys(names))

    def all_files(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(f for mode in self.modes.values() for f in mode.files))


def _did_you_mean(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


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


def _well_formed(ref: str) -> bool:
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
class _RawBuild:
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


def _raw_builds(config: dict[str, Any], project: str, where: str, env_file: Path | None = None) -> tuple[list[_RawBuild], dict[str, str], list[str]]:
    """From one mode's compose config: builds, image-only services (service -> ref), all service names."""
    services = config.get("services") or {}
    builds: list[_RawBuild] = []
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
            builds.append(_RawBuild(service, context, dockerfile_path, build.get("target") or None, args, contexts, name, spec_extra))
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
                             f"{_did_you_mean(target, stages)} (stages: {', '.join(stages) or 'none, it is single-stage'}).")


def _image_names(identities: list[tuple[Path, Path]], root: Path) -> dict[tuple[Path, Path], str]:
    """A short, stable name per (context, Dockerfile): the context folder's name, made unique."""
    names: dict[tuple[Path, Path], str] = {}
    taken: set[str] = set()
    for identity in identities:
        context, dockerfile = identity
        base = _slug(context.name if context != root else root.name)
        name = base
        if name in taken:
            name = f"{base}-{_slug(dockerfile.name)}"
        n = 2
        while name in taken:
            name = f"{base}-{n}"
            n += 1
        taken.add(name)
        names[identity] = name
    return names


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "image"


ConfigReader = Callable[[tuple[Path, ...], str | None], dict[str, Any]]


def check_paths(project: Project, settings: Settings) -> None:
    """Every file polyarch.toml names stays inside the project folder (mode files: `mode_files`)."""
    own = settings.project
    project.path(own.env_file, "project.env_file")
    project.path(own.env_example, "project.env_example")
    if own.values_file:
        project.path(own.values_file, "project.values_file")
    for key, spec in settings.optional.items():
        project.path(spec.context, f"optional.{key}.context")
        project.path(str(Path(spec.context) / spec.dockerfile), f"optional.{key}.dockerfile")


def mode_files(project: Project, settings: Settings, env: dict[str, str]) -> dict[str, tuple[Path, ...]]:
    """Each mode's compose files, with its overlay when the .env key asks for it."""
    if not settings.modes:
        if not project.compose_files:
            raise StackError(f"{project.describe()}: there is no compose file ({', '.join(COMPOSE_NAMES)}) in {project.root} and no [modes] table.",
                             tip="Add a compose file, or name each mode's files in polyarch.toml's [modes] tables.")
        missing = [f for f in project.compose_files if not f.is_file()]
        if missing:  # only COMPOSE_FILE can name a file that is not there
            origin = "$COMPOSE_FILE" if os.environ.get("COMPOSE_FILE") else f"COMPOSE_FILE in {settings.project.env_file}"
            raise StackError(f"{project.describe()}: {origin} names {missing[0]}, which does not exist.",
                             tip="Correct COMPOSE_FILE (paths relative to the project folder, separated by COMPOSE_PATH_SEPARATOR, "
                                 "default ':'), or unset it to use the default compose files.")
        if project.prod_files is not None:
            # Compose's convention: base + override for development, base (+ prod file) for production.
            return {"dev": project.compose_files, "prod": project.prod_files}
        return {"default": project.compose_files}
    result = {}
    for name, spec in settings.modes.items():
        files = [project.path(f, f"modes.{name}.files") for f in spec.files]
        if spec.overlay and env.get(spec.overlay.key, "") == spec.overlay.value:
            files += [project.path(f, f"modes.{name}.overlay.files") for f in spec.overlay.files]
        for f in files:
            if not f.is_file():
                raise StackError(f"{project.describe()}: mode '{name}' names {f}, which does not exist.")
        result[name] = tuple(files)
    return result


def mode_roles(settings: Settings, files: dict[str, tuple[Path, ...]], where: str) -> dict[str, str | None]:
    """The mode each role (dev, prod, airtight) uses."""
    roles: dict[str, str | None] = {}
    for role in ROLES:
        wanted = getattr(settings.tasks, role)
        if not settings.modes:
            roles[role] = ZERO_CONFIG_ROLES[role] if ZERO_CONFIG_ROLES[role] in files else "default"
        elif wanted in files:
            roles[role] = wanted
        elif role in settings.tasks.model_fields_set:
            raise StackError(f"{where}: tasks.{role} names mode '{wanted}', which is not defined{_did_you_mean(wanted, files)}.")
        else:
            # One mode serves every task; with several, a missing role is an
            # error only when a task needs it (Stack.role).
            roles[role] = next(iter(files)) if len(files) == 1 else None
    return roles


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
    raw: dict[str, tuple[list[_RawBuild], dict[str, str], list[str]]] = {}
    for mode_name, config in configs.items():
        raw[mode_name] = _raw_builds(config, project_name, f"mode '{mode_name}' ({', '.join(_rel(f, root) for f in files[mode_name])})",
                                     root / settings.project.env_file)

    identities = list(dict.fromkeys(b.identity() for builds, _, _ in raw.values() for b in builds))
    names = _image_names(identities, root)

    for key in settings.images if set(configs) == set(files) else ():  # a mode left unread may build it
        if key not in names.values():
            raise StackError(f"{where}: images.{key} names no image the compose files build{_did_you_mean(key, names.values())} "
                             f"(images: {', '.join(names.values()) or 'none'}).",
                             tip="An image is named after its build context's folder.")

    # Order in which other modes are searched for the build behind an image-only service.
    search_order = [m for m in (roles["prod"],) if m in configs] + [m for m in configs if m != roles["prod"]]
    by_local_name: dict[str, _RawBuild] = {}
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
        groups: dict[tuple, list[_RawBuild]] = {}
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
            bake_name = name if name not in used_names else f"{name}-{_slug(first.target or 'default')}"
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


def _refuse_shared_names(groups: dict[tuple, list[_RawBuild]], where: str) -> None:
    """Two different builds under one image name would overwrite each other: refuse, naming both services."""
    owner: dict[str, _RawBuild] = {}
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


READINGS = ("run", "publish", "committed")


@dataclass(frozen=True)
class Scope:
    """What of the stack one task needs.

    The task runs one mode: `mode` (from --mode), else the mode of `role`. That
    mode's compose files must read; every other mode is read too (an image-only
    service may run what another mode builds) but is left out, in
    `Stack.unread`, when compose cannot read it. With neither role nor mode,
    no mode is needed: every readable mode is read (down, nuke). Only when
    `builds` are the mode's build contexts and Dockerfiles checked.
    `compose=False` reads no compose file at all (init).
    """

    role: str | None = None
    mode: str | None = None
    builds: bool = False
    compose: bool = True

    def needed(self, roles: dict[str, str | None]) -> set[str]:
        chosen = self.mode or (roles.get(self.role) if self.role else None)
        return {chosen} if chosen else set()


def load_stack(explicit: str | None = None, cwd: Path | None = None, read_config: ConfigReader | None = None,
               on_env: Callable[[dict[str, str], tuple[str, ...]], None] | None = None,
               reading: str = "run", scope: Scope | None = None) -> Stack:
    """Find the project, read polyarch.toml and the modes' compose config, and validate them.

    `on_env` receives the .env values and the declared secret keys as soon as they are
    read, before compose sees them, so that any later message can hide them.
    `reading` says what the compose files may use: "run" lets compose
    interpolate everything (what `up` needs); "publish" reads them without
    interpolation and resolves only build sections and image names, from the
    environment (and the `.env` keys project.release_env lists; image names
    may use all of `.env`); "committed" does the same
    from nothing but the files (no .env, no environment), so that the
    answer is the same on every machine.
    `scope`: what the task needs (Scope); None needs every mode and checks every build.
    """
    from polyarch.model.envfile import read_env
    from polyarch.model.project import find_project, with_env_file
    from polyarch.model.settings import SETTINGS_FILE, load_settings

    project = find_project(explicit, cwd)
    settings = load_settings(project.settings_file) if project.settings_file else Settings()
    check_paths(project, settings)
    env_file = project.root / settings.project.env_file
    env = read_env(env_file) if reading != "committed" else {}
    if on_env is not None:
        on_env(env, (*settings.project.secrets, *settings.project.required))
    project = with_env_file(project, env)
    if scope is not None and not scope.compose:
        return _settings_only(project, settings, env, env_file)
    files = mode_files(project, settings, env)
    if read_config is None:
        from polyarch.model.composecache import cached_reader

        read_config = cached_reader(project.root, env_file if reading != "committed" else None,
                                    project.root / settings.project.env_example, interpolate=reading == "run")
    needed = set(files) if scope is None else scope.needed(mode_roles(settings, files, project.describe()))
    name = settings.project.name
    name_from = f"project.name in {SETTINGS_FILE}"
    configs, unread, read_name = _read_modes(files, name, read_config, needed, project.root.name)
    if name is None:
        name = read_name
        name_from = _name_source(name, project.root, env, env_file)
    checked = None if scope is None else (needed if scope.builds else set())
    if reading == "run":
        return replace(build_stack(project, settings, configs, files, name, name_from, checked),
                       unread=unread)
    profiles = compose_variable("COMPOSE_PROFILES", env)
    active = {p.strip() for p in (profiles if reading != "committed" else "").split(",") if p.strip()}
    configs = {m: active_profiles_only(config, active) for m, config in configs.items()}
    names = {} if reading == "committed" else {**env, **os.environ}
    allowed = set(settings.project.release_env)
    builds = {k: v for k, v in names.items() if k in os.environ or k in allowed}
    withheld = {k for k in names if k not in builds}
    return replace(_resolved_stack(project, settings, configs, files, name, builds, name_from, checked,
                                   names, withheld), unread=unread)


def _read_modes(files: dict[str, tuple[Path, ...]], name: str | None, read_config: ConfigReader, needed: set[str],
                folder: str) -> tuple[dict[str, dict[str, Any]], dict[str, StackError], str]:
    """Each mode's compose config, in order; a mode not needed that compose cannot read goes to the second dict.

    polyarch.toml's name (`name`) is passed to compose as `-p`, which compose ranks first;
    without it compose's own rule (COMPOSE_PROJECT_NAME, top-level `name:`, the folder)
    decides, read from the first mode's config (the first readable one, when the first
    is not needed); the others then use that name.
    """
    from concurrent.futures import ThreadPoolExecutor

    order = list(files)
    configs: dict[str, dict[str, Any]] = {}
    unread: dict[str, StackError] = {}

    def attempt(mode: str, project_name: str | None) -> None:
        try:
            configs[mode] = read_config(files[mode], project_name)
        except StackError as exc:
            if mode in needed:
                raise
            unread[mode] = exc

    if name is None:
        for mode in order:
            attempt(mode, None)
            if mode in configs:
                name = str(configs[mode].get("name") or folder)
                break
        else:
            # Nothing readable: compose cannot even tell the project's name.
            raise next(iter(unread.values()))
    rest = [m for m in order if m not in configs and m not in unread]
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(rest)))) as pool:
        list(pool.map(lambda m: attempt(m, name), rest))
    return {m: configs[m] for m in order if m in configs}, {m: unread[m] for m in order if m in unread}, name


def _settings_only(project: Project, settings: Settings, env: dict[str, str], env_file: Path) -> Stack:
    """The stack as polyarch.toml and .env describe it, with no compose file read (no modes)."""
    from polyarch.model.settings import SETTINGS_FILE

    if settings.project.name:
        return Stack(project, settings.project.name, settings, DEFAULT_PLATFORMS, {}, {r: None for r in ROLES},
                     name_from=f"project.name in {SETTINGS_FILE}")
    # compose's rule without its files: COMPOSE_PROJECT_NAME, else the folder (a top-level `name:` is not seen).
    name = compose_variable("COMPOSE_PROJECT_NAME", env) or re.sub(r"[^a-z0-9_-]", "", project.root.name.lower())
    return Stack(project, name, settings, DEFAULT_PLATFORMS, {}, {r: None for r in ROLES},
                 name_from=_name_source(name, project.root, env, env_file))


def active_profiles_only(config: dict[str, Any], active: set[str]) -> dict[str, Any]:
    """The services compose would run with these profiles active.

    compose 2.26's `config --no-interpolate` lists the services of every
    profile, so a reading without interpolation is narrowed here.
    """
    if "*" in active:
        return config
    services = {s: spec for s, spec in (config.get("services") or {}).items()
                if not (spec or {}).get("profiles") or set(spec["profiles"]) & active}
    return {**config, "services": services}


def _name_source(name: str, root: Path, env: dict[str, str], env_file: Path) -> str:
    """Where compose took the project name from, for messages that ask to change it."""
    if os.environ.get("COMPOSE_PROJECT_NAME"):
        return "$COMPOSE_PROJECT_NAME"
    if env.get("COMPOSE_PROJECT_NAME"):
        return f"COMPOSE_PROJECT_NAME in {env_file.name}"
    if name == re.sub(r"[^a-z0-9_-]", "", root.name.lower()):
        return f"the folder's name ({root.name})"
    return "the top-level name: of the compose file"


def _resolved_stack(project: Project, settings: Settings, configs: dict[str, dict[str, Any]],
                    files: dict[str, tuple[Path, ...]], name: str, variables: dict[str, str], name_from: str = "",
                    checked_modes: set[str] | None = None, name_variables: dict[str, str] | None = None,
                    withheld: set[str] = frozenset()) -> Stack:
    """build_stack on configs read without interpolation, each mode noting the variables its builds lack.

    `withheld`: variables set only in .env that builds may not use (names may, from `name_variables`).
    """
    from dataclasses import replace

    from polyarch.core.interpolate import resolve_builds

    findings = {}
    for mode_name, config in configs.items():
        configs[mode_name], findings[mode_name] = resolve_builds(config, variables, name_variables)
        for service, spec in configs[mode_name]["services"].items():
            # A built image whose name lacks a variable (`${REGISTRY}/app`) is
            # published under its repository anyway: it keeps compose's default
            # local name rather than stopping on an invalid one.
            if spec.get("build") and findings[mode_name][service].image_missing and not _well_formed(str(spec.get("image"))):
                spec.pop("image")
    stack = build_stack(project, settings, configs, files, name, name_from, checked_modes)
    for mode_name, mode in stack.modes.items():
        per_service = findings[mode_name]
        stack.modes[mode_name] = replace(
            mode,
            unresolved=tuple((s, v, m) for s, f in per_service.items() for v, m in dict.fromkeys(f.required)),
            unset=tuple((s, v) for s, f in per_service.items() for v in dict.fromkeys(f.unset)),
            withheld=tuple((s, v) for s, f in per_service.items() for v in f.build_used if v in withheld))
    return stack
