"""Publishing to a registry and running what was published: deploy-build, verify, prod."""

from __future__ import annotations

import os
import time

from invoke import Collection

from polyarch.cli.preflight import check_cache, check_sbom_scanner, check_signing, check_verifier
from polyarch.cli.release_inputs import attestations_for, local_cache_root, pull_registry_for, read_inputs, registry_for
from polyarch.cli.session import Session, stack_if_any
from polyarch.cli.stack_start import print_urls, require_env
from polyarch.cli.tag_hints import known_tags, known_tags_here, missing_tag
from polyarch.cli.taskdecorator import ATTESTATION_HELP, HELP, polyarch_task
from polyarch.core import console
from polyarch.core.errors import MissingTagError, PolyarchError, SignatureError, UsageError
from polyarch.core.platforms import parse_platforms
from polyarch.core.progname import prog


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
    from polyarch.adapters.git import git_state, source_info
    from polyarch.model.fingerprint import image_fingerprints
    from polyarch.model.loading import Scope
    from polyarch.model.signing import signer_for
    from polyarch.planning.bake_targets import task_platforms
    from polyarch.planning.release_plans import deploy_plan
    from polyarch.planning.release_rules import choose_platforms, choose_tag, release_images

    session = Session.open(stack, dry_run, json, verbose, reading="publish", scope=Scope(role="prod", builds=True))
    s = session.stack
    check_cache(cache)
    signer = signer_for(s, sign)
    check_signing(signer, dry_run)
    attest = attestations_for(s, provenance, sbom)
    chosen, source = choose_platforms(platforms, os.environ.get("PLATFORMS"), s.platforms)
    values, env = read_inputs(s)
    images, ref_keys, image_notes = release_images(s, values, env)
    target_registry = registry_for(s, registry)
    # The values file is polyarch's own output: its change must not make the tree dirty.
    release_tag = choose_tag(tag, git_state(s.root, ignore=(s.values_file,) if s.values_file else ()), allow_dirty)
    # Nothing to write the tag into when the values file is not here (release_images noted it).
    values_file = s.values_file if s.values_file is not None and s.values_file.is_file() else None
    cache_root = local_cache_root(s)
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
    from polyarch.planning.release_plans import published_ref

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
    from polyarch.execution.handlers.registry import verify_index
    from polyarch.model.compose_builds import check_ref

    try:
        check_ref(ref, "verify")
    except PolyarchError as exc:
        raise UsageError(exc.message, tip="Give the tag as HOST[:PORT]/REPOSITORY:TAG, "
                                          f"e.g. `{prog()} verify 127.0.0.1:5000/polyarch/server:abc1234`.") from None
    from polyarch.model.signing import public_key_for

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
    from polyarch.model.loading import Scope
    from polyarch.planning.release_plans import prod_plan
    from polyarch.planning.release_rules import check_tag

    # It pulls: the build contexts (the source tree) need not be here.
    session = Session.open(stack, dry_run, json, scope=Scope(role="prod"))
    s = session.stack
    # Checked in a dry run too: a dry run that passes means the real run will not fail on input.
    require_env(s)
    wanted_version = check_tag(version or os.environ.get("VERSION") or "latest")
    target_registry = pull_registry_for(s, registry)
    chosen = session.host_platform(platform)
    from polyarch.model.signing import public_key_for

    public_key = public_key_for(s, key)
    check_verifier(public_key, dry_run)
    plan = prod_plan(s, target_registry, wanted_version, chosen, env_present=s.env_file.is_file(), public_key=public_key)
    try:
        results = session.carry_out(plan, chosen, s.role("prod"))
    except MissingTagError as exc:
        from polyarch.planning.release_plans import published_ref

        if exc.ref not in {published_ref(target_registry, image, wanted_version) for image in s.role("prod").images}:
            raise
        note = "" if version or os.environ.get("VERSION") else (
            f" prod runs '{wanted_version}' unless --version or $VERSION names another, and deploy-build pushes the commit's tag.")
        raise missing_tag(exc, known_tags(s.root, s.values_file),
                          lambda t: f"Run a published version: `{prog()} prod --version {t}` (or VERSION={t}).", note) from None
    if results is not None:
        print_urls(s)


ns = Collection("release", deploy_build, verify, prod)
