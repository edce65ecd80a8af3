"""Build steps: bake (skipping unchanged targets, choosing a builder), the digests a build pushed, builders."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from polyarch.adapters.digests import is_digest, write_digest
from polyarch.adapters.docker.engine import Engine
from polyarch.adapters.registry import delete_manifest
from polyarch.core import console
from polyarch.core.errors import EngineError, PlatformError, VerificationError
from polyarch.core.progname import prog
from polyarch.core.testpause import pause
from polyarch.execution.doctor import can_build, judge_builder
from polyarch.execution.handlers.state import RunState
from polyarch.execution.results import BuildResult, CopiedByDigest, DigestsRecorded, UnchangedTarget
from polyarch.model.envfile import read_env
from polyarch.model.fingerprint import ANNOTATION
from polyarch.planning.steps.build import AddBuilderNode, Build, RemoveBuilder
from polyarch.planning.steps.release import CopyByDigest, RecordDigests

# A registry's 5xx during a push is usually a moment's contention (distribution's
# filesystem store, say, races when one push writes a tag from several
# requests at once); the build is cached, so another try costs only the push.
PUSH_ATTEMPTS = 5

# buildx' plain progress names every manifest it pushes: "#12 pushing manifest for REF@sha256:... 0.1s done".
_PUSHED = re.compile(r"pushing manifest for ([^\s@]+)")


def run_build(engine: Engine, item: Build, state: RunState) -> BuildResult:
    pause("build")
    unchanged = unchanged_targets(engine, item) if item.skip_unchanged else {}
    remaining = item.without(set(unchanged))
    if remaining.targets and remaining.fallback_builder and not remaining.builder:
        remaining = replace(remaining, builder=choose_builder(engine, remaining))
    metadata = bake_with_retry(engine, remaining) if remaining.targets else {}
    if item.load:
        # A skipped image's label already says it was built for this platform.
        check_loaded(engine, remaining)
    return BuildResult(metadata, unchanged)


def record_digests(engine: Engine, item: RecordDigests, state: RunState) -> DigestsRecorded:
    build = last_build(state)
    digests = {image: build.digest(image) or "" for image in item.images}
    bad = [f"{image} ('{digest}')" for image, digest in digests.items() if not is_digest(digest)]
    if bad:
        # Checked before any file is written, so the folder never mixes
        # this build's digests with an older build's.
        raise VerificationError(f"buildx reported no usable digest for {', '.join(bad)} on {item.platform}; no digest file was written.")
    written = []
    for image, digest in digests.items():
        path = write_digest(item.folder, image, item.platform, digest)
        console.info(f"  {image} {item.platform}: {digest} -> {path}")
        written.append(path)
    return DigestsRecorded(tuple(written))


def copy_by_digest(engine: Engine, item: CopyByDigest, state: RunState) -> CopiedByDigest:
    digest = last_build(state).digest(item.image)
    if not digest:
        raise VerificationError(f"buildx reported no digest for {item.image}, so it was not copied to {item.destination}.")
    engine.create_manifest((f"{item.destination}@{digest}",), (f"{item.source}@{digest}",))
    why_not = delete_manifest(item.source, digest)
    if why_not:
        console.warn(f"the staging copy {item.source}@{digest} stays in the registry: {why_not}; "
                     "delete it there when convenient (a docker-container builder avoids staging altogether)")
    return CopiedByDigest(item.image, item.destination, digest)


def last_build(state: RunState) -> BuildResult:
    """The preceding Build step's result (an empty one when the plan had none, so the digest checks fail clearly)."""
    return state.log.last(BuildResult) or BuildResult()


def remove_builder(engine: Engine, item: RemoveBuilder, state: RunState) -> None:
    engine.remove_builder(item.name)


def add_builder_node(engine: Engine, item: AddBuilderNode, state: RunState) -> None:
    engine.add_builder_node(item.name, item.platform, item.endpoint, item.append)


HANDLERS = {
    Build: run_build,
    RecordDigests: record_digests,
    CopyByDigest: copy_by_digest,
    RemoveBuilder: remove_builder,
    AddBuilderNode: add_builder_node,
}


@contextmanager
def bake_lines(build: Build):
    """Pass buildx' lines through; while a build pushes, a live status says which image it pushes, n of m."""
    if not build.pushes:
        yield console.faint
        return
    names = {tag: t.name for t in build.targets for tag in t.tags}
    pushed: list[str] = []
    total = len(build.targets)
    with console.live(f"building {total} images") as update:
        def on_line(line: str) -> None:
            console.faint(line)
            match = _PUSHED.search(line)
            name = names.get(match.group(1), match.group(1)) if match else None
            if name and name not in pushed:
                pushed.append(name)
                update(f"pushing {name} ({len(pushed)} of {total} images)")

        yield on_line


def secret_values(build: Build) -> tuple[tuple[str, str], ...]:
    """Values for the build's `env=` secrets that the environment lacks, read from .env as compose reads it (each file once)."""
    files: dict[Path, dict[str, str]] = {}
    values = []
    for name, env_file in build.env_secrets():
        if name in os.environ:
            continue
        if env_file not in files:
            files[env_file] = read_env(env_file)
        if (value := files[env_file].get(name)) is not None:
            values.append((name, value))
    return tuple(values)


def bake_with_retry(engine: Engine, build: Build) -> dict:
    """Bake; a push that failed on a registry 5xx is tried again, a little later each time (the build itself is cached)."""
    pushes = build.pushes
    secrets = secret_values(build)
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        try:
            with bake_lines(build) as on_line:
                return engine.bake(build, metadata=pushes, on_line=on_line, env=secrets)
        except EngineError as exc:
            if not (pushes and exc.transient) or attempt == PUSH_ATTEMPTS:
                raise
            console.warn(f"the registry answered with a server error during the push; trying again in {attempt} s "
                         f"({attempt + 1}/{PUSH_ATTEMPTS})")
            time.sleep(attempt)
    raise AssertionError("unreachable")


def choose_builder(engine: Engine, build: Build) -> str | None:
    """The current builder (None) if it builds every platform at once, else the fallback, created once."""
    platforms = tuple(dict.fromkeys(p for t in build.targets for p in t.platforms))
    with ThreadPoolExecutor(max_workers=2) as pool:
        asked_info, asked_builder = pool.submit(engine.info), pool.submit(engine.builder)
        info, current = asked_info.result(), asked_builder.result()
    if judge_builder(current.driver, info.containerd_store, current.platforms).ok and all(can_build(p, current.platforms) for p in platforms):
        console.info(f"  builder: current builder '{current.name}' ({current.driver} driver) builds {', '.join(platforms)} at once")
        return None
    unknown = [p for p in platforms if not can_build(p, current.platforms)]
    if unknown and current.platforms:
        # The builder lists every platform this machine can emulate; another
        # builder on the same machine would not do better.
        raise PlatformError(
            f"This machine cannot build {', '.join(unknown)}: the builder '{current.name}' lists only {', '.join(current.platforms)}.",
            tip=f"Register QEMU for those platforms (`{prog()} doctor --platforms ...` says how), or leave them out with --platforms.",
        )
    name = build.fallback_builder
    fallback = engine.ensure_container_builder(name)
    missing = [p for p in platforms if not can_build(p, fallback.platforms)]
    if missing:
        raise PlatformError(
            f"No builder here can build {', '.join(missing)}: '{current.name}' lists {', '.join(current.platforms) or 'nothing'}, "
            f"'{name}' lists {', '.join(fallback.platforms) or 'nothing'}.",
            tip=f"Register QEMU for the missing platforms (`{prog()} doctor` says how), or drop them with --platforms.",
        )
    console.info(f"  builder: '{name}' (docker-container driver), because '{current.name}' cannot build {', '.join(platforms)} at once")
    return name


def unchanged_targets(engine: Engine, build: Build) -> dict[str, UnchangedTarget]:
    """Targets whose tag already carries the same input fingerprint, with the list the registry holds."""
    if build.load:
        return unchanged_local_targets(engine, build)
    candidates = [t for t in build.targets if t.fingerprint and t.ref]
    with ThreadPoolExecutor(max_workers=max(1, len(candidates))) as pool:
        indexes = list(pool.map(lambda t: engine.inspect_index(t.ref, missing_ok=True), candidates))
    skipped = {}
    for target, index in zip(candidates, indexes):
        if index is not None and index.annotations.get(ANNOTATION) == target.fingerprint \
                and all(p in index.platforms for p in target.platforms):
            console.info(f"  {target.name}: {target.ref} already holds these inputs; not rebuilt, not pushed")
            skipped[target.name] = UnchangedTarget(index=index)
    return skipped


def unchanged_local_targets(engine: Engine, build: Build) -> dict[str, UnchangedTarget]:
    """Targets whose every local name is one image already labelled with the same input fingerprint."""
    candidates = [t for t in build.targets if t.fingerprint and t.tags]
    held = engine.local_images(tuple(tag for t in candidates for tag in t.tags))
    skipped = {}
    for target in candidates:
        found = [held.get(tag) for tag in target.tags]
        if all(found) and len({image.id for image in found}) == 1 \
                and all(image.labels.get(ANNOTATION) == target.fingerprint for image in found):
            console.info(f"  {target.name}: the local image already holds these inputs; not rebuilt")
            skipped[target.name] = UnchangedTarget(image_id=found[0].id)
    return skipped


def check_loaded(engine: Engine, build: Build) -> None:
    """After a --load build, each target's image must hold the platform asked for.

    A target's tags all name the one image it built, so one tag per target is checked.
    """
    for target in build.targets:
        (wanted,) = target.platforms
        if target.tags and not engine.platform_available(target.tags[0], wanted):
            raise VerificationError(f"{target.tags[0]} was built for {wanted}, but the engine holds no {wanted} variant of it.")
