"""Publishing to a registry and running what was published: deploy-build, verify, prod."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from invoke import Collection

from polyarch.core import console
from polyarch.core.progname import prog
from polyarch.cli.session import HELP, Session, polyarch_task
from polyarch.core.errors import MissingTagError, PolyarchError

if TYPE_CHECKING:
    from polyarch.model.stack import Stack


def pull_registry_for(stack: Stack, flag: str | None) -> str:
    """Where `prod` pulls from: --registry, else project.pull_registry, else where deploy-build pushes."""
    from polyarch.planning.release_rules import check_registry

    if flag is None and stack.pull_registry:
        return check_registry(stack.pull_registry, "project.pull_registry")
    return registry_for(stack, flag)


def read_inputs(stack: Stack, committed: bool = False) -> tuple[dict | None, dict[str, str]]:
    """What release build args and optional images are read from: the values file, and the variables.

    The values file is None when polyarch.toml names none or it is not here
    (a clean checkout lacks a generated one; release_images says what that
    skips). The variables are the environment over `.env` (when there is
    one). With `committed`, only what a fresh clone has: the values file
    only if git tracks it, and no variables, so the answer is the same on
    every machine.
    """
    from polyarch.model.envfile import read_env

    values = None
    path = stack.values_file
    if path is not None and path.is_file():
        from polyarch.adapters.git import is_tracked

        if not committed or is_tracked(path):
            from polyarch.model.values import read_values

            values = read_values(path)
    if committed:
        return values, {}
    from polyarch.planning.release_rules import Variables

    env = Variables({**(read_env(stack.env_file) if stack.env_file.is_file() else {}), **os.environ},
                    frozenset(os.environ))
    # Values taken from the environment for build args are hidden like .env secrets.
    console.hide_secrets({k: env[k] for k in _env_sourced(stack) if k in env})
    return values, env


def _env_sourced(stack: Stack) -> tuple[str, ...]:
    specs = [*stack.settings.images.values(), *stack.settings.optional.values()]
    return tuple(dict.fromkeys(k for spec in specs for k in spec.build_args.env))


def check_gha_runtime(env) -> None:
    """BuildKit's gha cache talks to the GitHub Actions cache service; refuse before building when it is not there."""
    from polyarch.core.errors import UsageError

    missing = [k for k in ("ACTIONS_RUNTIME_TOKEN",) if not env.get(k)]
    if not (env.get("ACTIONS_CACHE_URL") or env.get("ACTIONS_RESULTS_URL")):
        missing.append("ACTIONS_CACHE_URL (or ACTIONS_RESULTS_URL)")
    if missing:
        raise UsageError(
            f"--cache gha needs the GitHub Actions cache service, and {', '.join(missing)} is not set, so nothing was built.",
            tip="Use it in a workflow step that exposes the runtime (e.g. crazy-max/ghaction-github-runtime), "
                "or pick --cache registry or --cache local here.")


def check_cache(kind: str | None, driver: str | None = None, containerd_store: bool = True) -> None:
    """Refuse, before anything is built, a cache backend this run or its builder cannot use.

    `driver` is the builder that will run the build, when it is known.
    """
    from polyarch.core.errors import UsageError
    from polyarch.model.settings import CACHE_BACKENDS, hide_credentials, registry_problem

    if kind not in (None, "", *CACHE_BACKENDS):
        # A registry ref prefix: it goes into buildx' cache-from/cache-to specs.
        problem = registry_problem(kind)
        if problem:
            raise UsageError(f"--cache '{hide_credentials(kind)}' is neither a cache backend ({', '.join(CACHE_BACKENDS)}) nor a registry ref prefix HOST[:PORT]/NAME: {problem}.")
    if kind == "gha":
        check_gha_runtime(os.environ)
    if kind not in (None, "", "none") and driver == "docker" and not containerd_store:
        raise UsageError(
            f"--cache {kind} needs a builder that exports its cache, and the current builder uses buildx' docker driver "
            "on the classic image store, which cannot, so nothing was built.",
            tip="Turn on the containerd image store, or select a docker-container builder "
                "(`docker buildx create --use --driver docker-container`), or leave out --cache.")


def stack_if_any(stack_path: str | None) -> Stack | None:
    """The project found here, or None when there is none.

    A --stack or $POLYARCH_STACK that names nothing, or a broken project, is
    still an error: only "there is no project" gives None. Read as publishing
    reads it: its users (verify, doctor) run nothing, so a runtime variable
    missing here (no .env in CI) must not stop them.
    """
    from polyarch.model.project import ENV_VAR, find_project

    if not (stack_path or os.environ.get(ENV_VAR)):
        try:
            find_project()
        except PolyarchError:
            return None
    return Session.open(stack_path, reading="publish").stack


# The image BuildKit runs to make an SBOM (its default generator).
SBOM_SCANNER = "docker/buildkit-syft-scanner:stable-1"


def check_sbom_scanner(engine, platform: str) -> None:
    """Refuse --sbom before anything is built when BuildKit could not fetch its scanner image (no registry reachable)."""
    from polyarch.core.errors import UsageError
    from polyarch.adapters.registry import RegistryHTTPError, resolve_image

    try:
        resolve_image(SBOM_SCANNER, platform, engine.registry_mirrors())
    except (RegistryHTTPError, OSError) as exc:
        raise UsageError(
            f"An SBOM needs BuildKit's scanner image {SBOM_SCANNER}, and neither its registry nor the engine's mirrors "
            f"serve it here ({exc}); nothing was built.",
            tip="Build without --sbom ([attestations] sbom = false), or put the scanner image into the registry mirror.") from None


# --provenance/--sbom of the tasks that publish (deploy-build, publish-build).
ATTESTATION_HELP = {
    "provenance": "Attach BuildKit's SLSA provenance (mode=max) to every image (--no-provenance leaves it out).",
    "sbom": "Attach an SBOM too (needs BuildKit's scanner image from a registry; refused when it cannot be fetched).",
}


def attestations_for(stack: Stack, provenance: bool, sbom: bool):
    """The attestations a publish carries: polyarch.toml's [attestations], which --no-provenance and --sbom adjust."""
    from polyarch.planning.planner import Attestations

    wanted = stack.settings.attestations
    return Attestations(provenance=provenance and wanted.provenance, sbom=sbom or wanted.sbom)


def known_tags(root: Path, values_file: Path | None) -> dict[str, str]:
    """Tags worth naming first when a tag is missing, with why: the last deploy-build's (the values file) and this commit's."""
    from polyarch.adapters.git import git_state

    known: dict[str, str] = {}
    if values_file is not None and values_file.is_file():
        from polyarch.model.values import read_values

        try:
            image = read_values(values_file).get("image") or {}
        except PolyarchError:
            image = {}
        if isinstance(image, dict) and image.get("tag"):
            known[str(image["tag"])] = "the last deploy-build"
    sha = git_state(root).short_sha
    if sha:
        known.setdefault(sha, "this commit")
    return known


def known_tags_here(stack_path: str | None) -> dict[str, str]:
    """known_tags() of the project found from here, or of this folder's git when there is none."""
    from polyarch.model.project import find_project
    from polyarch.model.settings import load_settings

    try:
        project = find_project(stack_path)
        settings = load_settings(project.settings_file) if project.settings_file else None
    except PolyarchError:
        return known_tags(Path.cwd(), None)
    values = settings.project.values_file if settings else None
    return known_tags(project.root, project.root / values if values else None)


def missing_tag(exc: MissingTagError, known: dict[str, str], use: Callable[[str], str], note: str = "") -> MissingTagError:
    """`exc` again, saying which tags the registry has for that repository and how to use one (`use(tag)`)."""
    from polyarch.adapters.registry import RegistryHTTPError, list_tags
    from polyarch.planning.release_rules import missing_tag_message

    try:
        tags: list[str] | None = list_tags(exc.ref)
    except RegistryHTTPError:
        tags = None
    if tags is not None:
        from polyarch.planning.signing import is_cosign_tag

        tags = [t for t in tags if not is_cosign_tag(t)]  # signatures stored beside the images are no versions
    message, instead = missing_tag_message(exc.ref, tags, known)
    tip = use(instead) if instead else f"Publish it first (`{prog()} deploy-build`), or check the registry and the repository name."
    return MissingTagError(exc.ref, message + note, tip)


def registry_for(stack: Stack, flag: str | None) -> str:
    from polyarch.planning.release_rules import choose_registry

    values_registry = None
    # A values file that is not here (a clean checkout) gives no registry; the error then asks for --registry.
    if flag is None and not stack.registry and stack.values_file is not None and stack.values_file.is_file():
        from polyarch.model.values import read_registry

        values_registry = read_registry(stack.values_file)
    return choose_registry(flag, stack.registry, values_registry)


@polyarch_task(help={
    "platforms": "Platforms to build, e.g. linux/arm64 or linux/amd64,linux/arm64 (default: $PLATFORMS, else the stack's).",
    "registry": "Registry and namespace to push to, e.g. 127.0.0.1:5000/polyarch (default: the stack's or the values file's).",
    "tag": "Tag to push (default: the short git SHA; 'dev' outside git).",
    "allow_dirty": "Allow a tag from a work tree with uncommitted changes.",
    "cache": "Build cache: 'registry' (a :buildcache tag per image), 'local' (a folder in the user cache dir), "
             "'gha' (GitHub Actions' cache, inside a workflow) or a registry ref prefix.",
    "builder": "Use this buildx builder (e.g. one made by the builder task) instead of choosing one.",
    "rebuild": "Build and push even images whose inputs are unchanged since the tag was pushed.",
    "verify": "Check every pushed tag lists every platform (--no-verify skips it).",
    **ATTESTATION_HELP,
    "sign": "Sign every verified manifest list with cosign when [signing] is set (--no-sign skips it).",
    "dry_run": HELP["dry_run"],
    "json": HELP["json"],
    "stack": HELP["stack"],
    "verbose": HELP["verbose"],
})
def deploy_build(c, platforms=None, registry=None, tag=None, allow_dirty=False, cache=None, builder=None, rebuild=False,
                 verify=True, provenance=True, sbom=False, sign=True, dry_run=False, json=False, stack=None,
                 verbose=False):
    """Build all images multi-arch, push, verify the manifest lists."""
    from platformdirs import user_cache_path

    from polyarch.planning.fingerprint import image_fingerprints
    from polyarch.adapters.git import git_state, source_info
    from polyarch.planning.planner import deploy_plan, task_platforms
    from polyarch.planning.release_rules import choose_platforms, choose_tag, release_images
    from polyarch.planning.signing import check_ready, signer_for
    from polyarch.model.stack import Scope

    session = Session.open(stack, dry_run, json, verbose, reading="publish", scope=Scope(role="prod", builds=True))
    s = session.stack
    check_cache(cache)
    signer = signer_for(s, sign)
    check_ready(signer, dry_run)
    attest = attestations_for(s, provenance, sbom)
    chosen, source = choose_platforms(platforms, os.environ.get("PLATFORMS"), s.platforms)
    values, env = read_inputs(s)
    images, ref_keys, image_notes = release_images(s, values, env)
    target_registry = registry_for(s, registry)
    # The values file is polyarch's own output: its change must not make the tree dirty.
    release_tag = choose_tag(tag, git_state(s.root, ignore=(s.values_file,) if s.values_file else ()), allow_dirty)
    # Nothing to write the tag into when the values file is not here (release_images noted it).
    values_file = s.values_file if s.values_file is not None and s.values_file.is_file() else None
    cache_root = user_cache_path("polyarch") / "buildx" / s.name
    notes = [f"platforms from {source}: {', '.join(chosen)}", *image_notes]
    if builder:
        notes.append(f"builder: '{builder}' (--builder)")
    fingerprints = None if rebuild else image_fingerprints(images, lambda image: task_platforms(image, chosen, host=False))
    plan = deploy_plan(images, chosen, target_registry, release_tag, builder, cache, cache_root, verify, tuple(notes), fingerprints,
                       fallback_builder=None if builder else f"{s.name}-multiarch",
                       values_file=values_file, ref_keys=ref_keys if values_file else (), source=source_info(s.root),
                       attest=attest, signer=signer)
    if attest.sbom and not dry_run:
        check_sbom_scanner(session.engine(), chosen[0])
    started = time.monotonic()
    results = session.carry_out(plan, mode=s.role("prod"))
    if results is None:
        return
    from polyarch.execution.results import BuildResult

    elapsed = time.monotonic() - started
    build = results.first(BuildResult)
    from polyarch.planning.planner import published_ref

    rows = []
    for image in images:
        ref = published_ref(target_registry, image, release_tag)
        digest = build.digest(image.name)
        digest = "?" if digest is None else digest
        rows.append((image.name, ref, ", ".join(chosen), digest, "unchanged, skipped" if build.skipped(image.name) else "built and pushed"))
        console.emit(f"{ref}@{digest}")
    console.table(f"Published in {elapsed:.1f}s", ("image", "tag", "platforms", "manifest list digest", "result"), rows)


@polyarch_task(help={
    "ref": "The registry tag to check, e.g. 127.0.0.1:5000/polyarch/server:abc1234.",
    "platforms": "Platforms that must be present (default: the stack's, else linux/amd64,linux/arm64).",
    "key": "cosign public key the tag must be signed with (default: [signing] public_key; unchecked without one).",
    "stack": HELP["stack"],
})
def verify(c, ref, platforms=None, key=None, stack=None):
    """Fail unless a registry tag serves every platform asked for."""
    from polyarch.core.errors import UsageError
    from polyarch.execution.handlers.registry import verify_index
    from polyarch.core.platforms import parse_platforms
    from polyarch.model.stack import check_ref

    try:
        check_ref(ref, "verify")
    except PolyarchError as exc:
        raise UsageError(exc.message, tip="Give the tag as HOST[:PORT]/REPOSITORY:TAG, "
                                          f"e.g. `{prog()} verify 127.0.0.1:5000/polyarch/server:abc1234`.") from None
    from polyarch.planning.signing import check_verifier, public_key_for

    if platforms and key:
        wanted = parse_platforms(platforms, "--platforms")
        found = None
        if stack:
            from polyarch.model.project import find_project

            find_project(stack)  # a named project that does not exist is an error here too
    else:
        # The project gives the platforms, or the public key ([signing] public_key), or both.
        from polyarch.model.stack import DEFAULT_PLATFORMS

        found = stack_if_any(stack)
        wanted = parse_platforms(platforms, "--platforms") if platforms else found.platforms if found else DEFAULT_PLATFORMS
    public_key = public_key_for(found, key)
    check_verifier(public_key, dry_run=False)
    from polyarch.adapters.docker.engine import Engine

    engine = Engine()
    try:
        index = engine.inspect_index(ref)
    except MissingTagError as exc:
        from polyarch.core.imageref import repository_of

        raise missing_tag(exc, known_tags_here(stack), lambda t: f"Check one it has: `{prog()} verify {repository_of(ref)}:{t}`.") from None
    attestations = engine.attestations(ref)
    console.table(f"{ref}", ("platform", "wanted", "attestations"),
                  [(p, "yes" if p in wanted else "", ", ".join(attestations.get(p) or attestations.get("") or ()) or "none")
                   for p in index.platforms])
    oci = sorted((k, v) for k, v in index.annotations.items() if k.startswith("org.opencontainers.image."))
    if oci:
        console.table("OCI annotations", ("key", "value"), oci)
    verify_index(engine, ref, wanted)
    if public_key is not None:
        from polyarch.execution.handlers.signing import check_image_signature

        signed = check_image_signature(ref, public_key, "refused")
        if signed != index.digest:
            from polyarch.core.errors import SignatureError

            raise SignatureError(f"The signature cosign checked covers {signed}, but {ref} now points at {index.digest}.",
                                 tip="The tag moved while it was checked: run verify again.")
    console.emit(f"{ref}@{index.digest}")
    console.done(f"{ref} serves {', '.join(wanted)}")


@polyarch_task(help={
    "version": "Published tag to run (default: $VERSION, else latest).",
    "registry": "Registry and namespace to pull from (default: project.pull_registry, else where deploy-build pushes).",
    "platform": HELP["platform"],
    "key": "cosign public key every image must be signed with, checked before anything is pulled "
           "(default: [signing] public_key).",
    "dry_run": HELP["dry_run"],
    "json": HELP["json"],
    "stack": HELP["stack"],
})
def prod(c, version=None, registry=None, platform=None, key=None, dry_run=False, json=False, stack=None):
    """Pull the published images for this host and run them."""
    from polyarch.planning.planner import prod_plan
    from polyarch.planning.release_rules import check_tag
    from polyarch.model.stack import Scope
    from polyarch.cli.tasks.devloop import print_urls, require_env

    # It pulls: the build contexts (the source tree) need not be here.
    session = Session.open(stack, dry_run, json, scope=Scope(role="prod"))
    s = session.stack
    # Checked in a dry run too: a dry run that passes means the real run will not fail on input.
    require_env(s)
    wanted_version = check_tag(version or os.environ.get("VERSION") or "latest")
    target_registry = pull_registry_for(s, registry)
    chosen = session.host_platform(platform)
    from polyarch.planning.signing import check_verifier, public_key_for

    public_key = public_key_for(s, key)
    check_verifier(public_key, dry_run)
    plan = prod_plan(s, target_registry, wanted_version, chosen, env_present=s.env_file.is_file(), public_key=public_key)
    try:
        results = session.carry_out(plan, chosen, s.role("prod"))
    except MissingTagError as exc:
        from polyarch.planning.planner import published_ref

        if exc.ref not in {published_ref(target_registry, image, wanted_version) for image in s.role("prod").images}:
            raise
        note = "" if version or os.environ.get("VERSION") else (
            f" prod runs '{wanted_version}' unless --version or $VERSION names another, and deploy-build pushes the commit's tag.")
        raise missing_tag(exc, known_tags(s.root, s.values_file),
                          lambda t: f"Run a published version: `{prog()} prod --version {t}` (or VERSION={t}).", note) from None
    if results is not None:
        print_urls(s)


ns = Collection("release", deploy_build, verify, prod)
