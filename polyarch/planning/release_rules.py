"""Pure rules for publishing: which platforms, registry and tags a release uses.

Nothing here touches docker; git is read by the caller and passed in.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import replace

from polyarch.adapters.git import GitState, SourceInfo
from polyarch.core.errors import StackError, UsageError
from polyarch.core.imageref import DEFAULT_TAG
from polyarch.core.imageref import split as split_ref
from polyarch.core.platforms import parse_platforms
from polyarch.model.compose_builds import check_dockerfile
from polyarch.model.settings_rules import credentials_in, registry_problem

# Registry values that mean "not configured yet".
PLACEHOLDER_REGISTRIES = {"", "null", "none", "~", "your-registry", "registry.example.com", "example.com", "changeme"}

_SEMVER = re.compile(r"^v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?P<pre>-[0-9A-Za-z.-]+)?$")
_TAG_OK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def choose_platforms(flag: str | None, env_value: str | None, stack_default: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """--platforms wins over $PLATFORMS, which wins over the stack's list. Returns (platforms, source)."""
    if flag is not None:
        return parse_platforms(flag, "--platforms"), "--platforms"
    if env_value is not None:
        return parse_platforms(env_value, "$PLATFORMS"), "$PLATFORMS"
    return stack_default, "the stack description"


def check_registry(value: str | None, source: str) -> str:
    """Refuse an empty, null or placeholder registry, or one carrying credentials, before anything is built."""
    text = (value or "").strip()
    found = credentials_in(text)
    if found is not None:
        shown, host = found
        raise UsageError(f"The registry from {source} ('{shown}') carries a user name or password; "
                         "polyarch takes none in a registry reference, so that it never shows up in a plan or log.",
                         tip=f"Remove the part before '@' and log in once with `docker login {host}`; pushes and pulls then use the login docker keeps.")
    base = text.lower().rstrip("/")
    if base in PLACEHOLDER_REGISTRIES or base.startswith("<") or "your-registry" in base:
        shown = f"'{value}'" if value else "empty"
        raise UsageError(
            f"The registry from {source} is {shown}, which is not a registry images can be pushed to.",
            tip="Pass --registry HOST[:PORT]/NAMESPACE (e.g. 127.0.0.1:5000/polyarch), or set it in the stack description.",
        )
    tip = "Pass --registry HOST[:PORT]/NAMESPACE (e.g. 127.0.0.1:5000/polyarch), or correct it in the stack description."
    if any(c.isspace() for c in text) or "://" in text:
        raise UsageError(f"The registry from {source} ('{value}') must look like HOST[:PORT][/NAMESPACE], without a scheme or spaces.", tip=tip)
    problem = registry_problem(text.rstrip("/"))
    if problem:
        host, _, namespace = text.rstrip("/").partition("/")
        lowered = f"{host}/{namespace.lower()}"
        raise UsageError(f"The registry from {source} must look like HOST[:PORT][/NAMESPACE]: {problem}.",
                         tip=f"Try '{lowered}'." if namespace and registry_problem(lowered) is None else tip)
    return text.rstrip("/")


def choose_registry(flag: str | None, stack_registry: str, values_registry: str | None) -> str:
    """--registry, else the stack description, else the Helm values file."""
    if flag is not None:
        return check_registry(flag, "--registry")
    if stack_registry:
        return check_registry(stack_registry, "the stack description")
    if values_registry is not None:
        return check_registry(values_registry, "image.registry in the values file")
    return check_registry("", "the stack description (no registry set)")


def check_tag(tag: str) -> str:
    if not _TAG_OK.fullmatch(tag):
        raise UsageError(f"'{tag}' is not a valid image tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-').")
    return tag


def choose_tag(flag: str | None, git: GitState, allow_dirty: bool) -> str:
    """--tag, else the short git SHA (refusing a dirty tree), else 'dev' outside git."""
    if flag:
        return check_tag(flag)
    if git.short_sha is None:
        return "dev"
    if git.dirty and not allow_dirty:
        raise UsageError(
            f"The work tree has uncommitted changes, so the tag {git.short_sha} would not name the source it was built from.",
            tip="Commit or stash the changes, pass --allow-dirty, or name a tag with --tag.",
        )
    return git.short_sha


def release_tags(ref: str, short_sha: str) -> tuple[str, ...]:
    """Tags a publish gets from its git ref.

    refs/tags/vX.Y.Z -> X.Y.Z, X.Y, latest; a prerelease (vX.Y.Z-rc.1) only
    gets its full version; refs/heads/main -> edge; every ref gets sha-<short>.
    """
    tags: list[str] = []
    if ref.startswith("refs/tags/"):
        match = _SEMVER.match(ref[len("refs/tags/"):])
        if match:
            version = f"{match['major']}.{match['minor']}.{match['patch']}"
            if match["pre"]:
                tags.append(version + match["pre"])
            else:
                tags += [version, f"{match['major']}.{match['minor']}", "latest"]
    elif ref == "refs/heads/main":
        tags.append("edge")
    if not short_sha or not re.fullmatch(r"[0-9a-f]{4,40}", short_sha):
        raise UsageError(f"'{short_sha}' is not a short git SHA.")
    tags.append(f"sha-{short_sha[:7]}")
    return tuple(tags)


def lookup(values: dict, dotted: str) -> object:
    """The value at a dotted key path of a values mapping (None when any part is missing)."""
    node: object = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def is_true(value: object) -> bool:
    """A values or .env flag: true, "true", "yes", "1", "on" (any case)."""
    return value is True or str(value).strip().lower() in ("true", "yes", "1", "on")


def extra_build_args(sources, values: dict | None, env: dict[str, str], where: str,
                     values_named: bool = False) -> tuple[tuple[str, str], ...]:
    """Build args from polyarch.toml sources (see build_arg_sources), as sorted pairs."""
    return tuple(sorted((k, v) for k, v, _ in build_arg_sources(sources, values, env, where, values_named)))


class Variables(dict):
    """Variables for build args: the environment over `.env`; `from_environment` names those the environment set."""

    def __init__(self, values: dict[str, str], from_environment: frozenset[str] = frozenset()):
        super().__init__(values)
        self.from_environment = from_environment


def build_arg_sources(sources, values: dict | None, env: dict[str, str], where: str,
                      values_named: bool = False) -> tuple[tuple[str, str, str], ...]:
    """(arg, value, source) from polyarch.toml: non-empty values keys under a prefix, named variables, literals.

    Later sources win. `values` None with `values_named` means the project
    names a values file that is not here (a clean checkout): the prefix then
    adds nothing.
    """
    args: dict[str, tuple[str, str]] = {}
    if sources.values_prefix:
        if values is None and not values_named:
            raise UsageError(f"{where}.build_args.values_prefix needs a values file, and polyarch.toml names none (project.values_file).")
        parent, _, prefix = sources.values_prefix.rpartition(".")
        table = lookup(values or {}, parent) if parent else values
        if isinstance(table, dict):
            for key, value in table.items():
                if str(key).startswith(prefix) and value not in (None, ""):
                    text = str(value).lower() if isinstance(value, bool) else str(value)
                    args[str(key)] = (text, f"values {sources.values_prefix}")
    from_environment = getattr(env, "from_environment", frozenset())
    for key in sources.env:
        if env.get(key):
            args[key] = (env[key], "environment" if key in from_environment else ".env")
    for key, text in sources.literal_args().items():
        args[key] = (text, "polyarch.toml")
    return tuple((k, v, source) for k, (v, source) in args.items())


def _with_sources(stack, image, values: dict | None, env: dict[str, str]):
    """An image with its images.NAME.build_args added to compose's args, each added arg's source noted for the plan."""
    spec = stack.settings.images.get(image.name)
    if spec is None:
        return image
    sources = build_arg_sources(spec.build_args, values, env, f"images.{image.name}", stack.values_file is not None)
    args = dict(image.args)
    args.update((k, v) for k, v, _ in sources)
    return replace(image, args=tuple(sorted(args.items())), arg_sources=tuple((k, source) for k, _, source in sources))


def with_release_args(stack, role: str, values: dict | None, env: dict[str, str]):
    """The stack with the `role` mode's images built with their images.NAME.build_args too (an airtight
    bundle is a release as much as a published image)."""
    mode = stack.role(role)
    images = tuple(_with_sources(stack, image, values, env) for image in mode.images)
    return replace(stack, modes={**stack.modes, mode.name: replace(mode, images=images)})


def release_images(stack, values: dict | None, env: dict[str, str], building: bool = True):
    """What deploy-build and publish-build publish: the prod mode's images, plus enabled optional ones.

    Returns (images, ref_keys, notes): ref_keys are (values key, image name)
    pairs that receive the pushed ref. Pure: values and env are read by the
    caller; `values` None for a values file polyarch.toml names means it is
    not here, and what it would feed is skipped (and noted). Only when
    `building` must every variable the builds need be set.
    """
    mode = stack.role("prod")
    if building:
        mode.require_resolved()
    named = stack.values_file is not None
    images = []
    withheld = set(mode.withheld)
    notes = [f"{service}: ${{{var}}} is set only in .env, which a release does not read, so the build does without it "
             "(project.release_env lists the .env keys a release may use)" for service, var in mode.withheld]
    notes += [f"{service}: ${{{var}}} is not set, so compose's rule makes it empty"
              for service, var in mode.unset if (service, var) not in withheld]
    if named and values is None:
        notes.append(f"the values file {stack.settings.project.values_file} is not here (or, for workflows, not committed): "
                     "the build args and optional images it feeds are skipped")
    for image in mode.images:
        spec = stack.settings.images.get(image.name)
        image = _with_sources(stack, image, values, env)
        if spec is not None and spec.publish_target:
            check_dockerfile(image.context, image.dockerfile, spec.publish_target, f"images.{image.name}.publish_target",
                             image.spec.dockerfile_inline)
            image = replace(image, target=spec.publish_target)
        images.append(image)
    ref_keys = []
    for image in stack.optional:
        spec = stack.settings.optional[image.name]
        if spec.enabled_by:
            kind, _, key = spec.enabled_by.partition(":")
            if kind == "values" and values is None:
                if not named:
                    raise UsageError(f"optional.{image.name}.enabled_by reads the values file, and polyarch.toml names none (project.values_file).")
                notes.append(f"optional image {image.name}: skipped, {spec.enabled_by} cannot be read without the values file")
                continue
            flag = lookup(values or {}, key) if kind == "values" else env.get(key)
            if not is_true(flag):
                notes.append(f"optional image {image.name}: skipped, {spec.enabled_by} is {flag!r}")
                continue
            notes.append(f"optional image {image.name}: built, {spec.enabled_by} is {flag!r}")
        sources = build_arg_sources(spec.build_args, values, env, f"optional.{image.name}", named)
        images.append(replace(image, args=tuple(sorted((k, v) for k, v, _ in sources)),
                              arg_sources=tuple((k, source) for k, _, source in sources)))
        if spec.ref_key:
            ref_keys.append((spec.ref_key, image.name))
    if not images:
        raise UsageError(f"The {stack.name} project builds no image of its own, so there is nothing to publish.",
                         tip="Give a compose service a build: section, or add an [optional.*] image to polyarch.toml.")
    check_repositories(images)
    return tuple(images), tuple(ref_keys), tuple(notes)


def check_repositories(images) -> None:
    """Refuse two published images sharing one repository: each would push over the other's tags."""
    by_repository: dict[str, list[str]] = {}
    for image in images:
        by_repository.setdefault(image.repository, []).append(image.name)
    for repository, names in by_repository.items():
        if len(names) > 1:
            raise StackError(f"The images {' and '.join(names)} would both be published to repository {repository}, "
                             "so each would push over the other's tags.",
                             tip=f"Unless polyarch.toml's images.NAME.repository names one for both, each is published under "
                                 f"its own name ({', '.join(names)}): remove that setting.")


def https_source(remote: str | None) -> str | None:
    """A git remote as the https address people browse: git@host:o/r.git -> https://host/o/r."""
    if not remote:
        return None
    text = remote.strip()
    match = re.match(r"^(?:ssh://)?git@([^:/]+)[:/](.+)$", text)
    if match:
        text = f"https://{match[1]}/{match[2]}"
    elif text.startswith("http://") or text.startswith("https://"):
        text = re.sub(r"^https?://[^@/]+@", "https://", text)
        text = re.sub(r"^http://", "https://", text)
    else:
        return None
    return text[:-4] if text.endswith(".git") else text


def oci_metadata(source: SourceInfo, version: str, title: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """OCI labels (image config) and annotations (index and manifests) for one published image.

    `created` is the commit's time, so two builds of one commit say the same.
    """
    keys: dict[str, str] = {"org.opencontainers.image.title": title, "org.opencontainers.image.version": version}
    url = https_source(source.remote)
    if url:
        keys["org.opencontainers.image.source"] = url
    if source.revision:
        keys["org.opencontainers.image.revision"] = source.revision
    if source.commit_time is not None:
        created = datetime.datetime.fromtimestamp(source.commit_time, datetime.timezone.utc)
        keys["org.opencontainers.image.created"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = tuple(sorted(keys.items()))
    annotations = tuple(f"{where}:{k}={v}" for where in ("index", "manifest") for k, v in labels)
    return labels, annotations


def missing_tag_message(ref: str, tags: list[str] | None, known: dict[str, str], limit: int = 12) -> tuple[str, str | None]:
    """What to say about a tag the registry lacks, and the tag to suggest instead (None when there is none).

    `tags` is the registry's list for the repository (None when it could not
    be read); `known` maps tags worth naming first to why (e.g. the last
    deploy-build). Those come first, the rest in the registry's order.
    """
    parts = split_ref(ref)
    repository, tag = parts.repository, parts.tag or DEFAULT_TAG
    if tags is None:
        return f"{ref} is not in its registry, and the registry's list of {repository} tags could not be read.", None
    if not tags:
        return f"{ref} is not in its registry: the registry holds no tags of {repository} at all.", None
    ordered = [t for t in known if t in tags] + [t for t in tags if t not in known]
    shown = [f"{t} ({known[t]})" if t in known else t for t in ordered[:limit]]
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return f"{ref} is not in its registry: {repository} has no tag '{tag}'. Its tags: {', '.join(shown)}{more}.", ordered[0]


def is_cosign_tag(tag: str) -> bool:
    """A tag cosign stores beside an image (its signature, attestation or SBOM): sha256-<digest>.sig and the like."""
    return re.fullmatch(r"sha256-[0-9a-f]{64}\.(sig|att|sbom)", tag) is not None
