"""Publishing to a registry and running what was published: deploy-build, verify, prod."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from invoke import Collection

from polyarch import console
from polyarch.cli import HELP, Session, polyarch_task

if TYPE_CHECKING:
    from polyarch.stack import Stack


def registry_for(stack: Stack, flag: str | None) -> str:
    from polyarch.release import choose_registry

    values_registry = None
    if flag is None and not stack.registry and stack.values_file is not None:
        from polyarch.values import read_registry

        values_registry = read_registry(stack.values_file)
    return choose_registry(flag, stack.registry, values_registry)


@polyarch_task(help={
    "platforms": "Platforms to build, e.g. linux/arm64 or linux/amd64,linux/arm64 (default: $PLATFORMS, else the stack's).",
    "registry": "Registry and namespace to push to, e.g. 127.0.0.1:5000/polyarch (default: the stack's or the values file's).",
    "tag": "Tag to push (default: the short git SHA; 'dev' outside git).",
    "allow_dirty": "Allow a tag from a work tree with uncommitted changes.",
    "cache": "Build cache: 'registry' (a :buildcache tag per image), 'local' (a folder in the user cache dir) or a registry ref prefix.",
    "builder": "Use this buildx builder (e.g. one made by `invoke builder`) instead of choosing one.",
    "rebuild": "Build and push even images whose inputs are unchanged since the tag was pushed.",
    "verify": "Check every pushed tag lists every platform (--no-verify skips it).",
    "dry_run": HELP["dry_run"],
    "stack": HELP["stack"],
})
def deploy_build(c, platforms=None, registry=None, tag=None, allow_dirty=False, cache=None, builder=None, rebuild=False,
                 verify=True, dry_run=False, stack=None):
    """Build all images multi-arch, push, verify the manifest lists."""
    from platformdirs import user_cache_path

    from polyarch.fingerprint import fingerprint
    from polyarch.gitinfo import git_state
    from polyarch.planner import deploy_plan
    from polyarch.release import choose_platforms, choose_tag

    session = Session.open(stack, dry_run)
    s = session.stack
    chosen, source = choose_platforms(platforms, os.environ.get("PLATFORMS"), s.platforms)
    target_registry = registry_for(s, registry)
    release_tag = choose_tag(tag, git_state(s.root), allow_dirty)
    cache_root = user_cache_path("polyarch") / "buildx" / s.name
    notes = [f"platforms from {source}: {', '.join(chosen)}"]
    if builder:
        notes.append(f"builder: '{builder}' (--builder)")
    fingerprints = None if rebuild else {
        image.name: fingerprint(image.context, image.dockerfile, image.stage("prod"), chosen,
                                tuple(sorted(image.build_args.items())), tuple(sorted(image.contexts.items())))
        for image in s.images
    }
    plan = deploy_plan(s, chosen, target_registry, release_tag, builder, cache, cache_root, verify, tuple(notes), fingerprints,
                       fallback_builder=None if builder else f"{s.name}-multiarch")
    started = time.monotonic()
    results = session.carry_out(plan)
    if results is None:
        return
    from polyarch.plans import Build

    elapsed = time.monotonic() - started
    metadata = next(r for i, r in results.items() if isinstance(plan.steps[i - 1], Build))
    rows = []
    for image in s.images:
        ref = s.published_ref(image, target_registry, release_tag)
        entry = (metadata or {}).get(image.name, {})
        digest = entry.get("containerimage.digest", "?")
        rows.append((image.name, ref, ", ".join(chosen), digest, "unchanged, skipped" if entry.get("skipped") else "built and pushed"))
        console.emit(f"{ref}@{digest}")
    console.table(f"Published in {elapsed:.1f}s", ("image", "tag", "platforms", "manifest list digest", "result"), rows)


@polyarch_task(help={
    "ref": "The registry tag to check, e.g. 127.0.0.1:5000/polyarch/server:abc1234.",
    "platforms": "Platforms that must be present (default: the stack's, else linux/amd64,linux/arm64).",
    "stack": HELP["stack"],
})
def verify(c, ref, platforms=None, stack=None):
    """Fail unless a registry tag serves every platform asked for."""
    from polyarch.errors import PolyarchError
    from polyarch.execute import verify_index
    from polyarch.platforms import parse_platforms

    if platforms:
        wanted = parse_platforms(platforms, "--platforms")
    else:
        try:
            wanted = Session.open(stack).stack.platforms
        except PolyarchError:
            wanted = ("linux/amd64", "linux/arm64")
    from polyarch.engine import Engine

    engine = Engine()
    index = engine.inspect_index(ref)
    console.table(f"{ref}", ("platform", "wanted"), [(p, "yes" if p in wanted else "") for p in index.platforms])
    verify_index(engine, ref, wanted)
    console.emit(f"{ref}@{index.digest}")
    console.done(f"{ref} serves {', '.join(wanted)}")


@polyarch_task(help={
    "version": "Published tag to run (default: $VERSION, else latest).",
    "registry": "Registry and namespace the images were pushed to (default: the stack's or the values file's).",
    "platform": HELP["platform"],
    "dry_run": HELP["dry_run"],
    "stack": HELP["stack"],
})
def prod(c, version=None, registry=None, platform=None, dry_run=False, stack=None):
    """Pull the published images for this host and run them."""
    from polyarch.planner import prod_plan
    from polyarch.release import check_tag
    from polyarch.tasks.devloop import print_urls, require_env

    session = Session.open(stack, dry_run)
    s = session.stack
    if not dry_run:
        require_env(s)
    wanted_version = check_tag(version or os.environ.get("VERSION") or "latest")
    target_registry = registry_for(s, registry)
    chosen = session.host_platform(platform)
    plan = prod_plan(s, target_registry, wanted_version, chosen, env_present=s.env_file.is_file())
    if session.carry_out(plan, chosen) is not None:
        print_urls(s)


ns = Collection("release", deploy_build, verify, prod)
