"""Walk a Plan step by step against the engine, checking each result.

This is the only place plans turn into actions, so a dry run (which prints the
plan instead) can never describe something other than what a real run does.
"""

from __future__ import annotations

import errno
import os
import re
import time
from contextlib import contextmanager
from dataclasses import replace

from polyarch.core import console
from polyarch.core.progname import prog
from polyarch.adapters.docker.engine import Engine
from polyarch.core.imageref import comparable, repository_of
from polyarch.core.imageref import split as split_ref
from polyarch.core.errors import BundleError, EngineError, PlatformError, SignatureError, VerificationError
from polyarch.planning.plans import (
    AddBuilderNode,
    RecordDigests,
    RemoveBuilder,
    Build,
    CheckImages,
    ComposeRemove,
    CopyByDigest,
    ComposeDown,
    ComposeUp,
    CreateManifest,
    KeepNames,
    LoadBundle,
    Plan,
    Pull,
    PullVerified,
    RemoveImages,
    RestoreNames,
    SaveBundle,
    SignImage,
    FetchBundle,
    DropKeptNames,
    InitEnv,
    WriteFiles,
    Step,
    Tag,
    UpdateValues,
    Verify,
    VerifyBundleSignature,
    VerifySignature,
)
from polyarch.core.testpause import pause


def run_plan(engine: Engine | None, plan: Plan) -> dict[int, object]:
    """Execute every step in order; returns each step's result by index.

    When a step fails after a KeepNames, the kept names are put back
    (unless a DropKeptNames came first).
    """
    results: dict[int, object] = {}
    # The backup names KeepNames made, until RestoreNames (or a failure) puts them back.
    kept: dict[str, str | None] = {}
    # Registry reads done ahead for a run of Verify steps, by ref.
    read_ahead: dict[str, object] = {}
    for number, item in enumerate(plan.steps, 1):
        console.step(f"[{number}/{len(plan.steps)}] {item.summary()}")
        if not isinstance(item, Verify):
            read_ahead.clear()  # a later Verify must see what the registry holds after this step
        if isinstance(item, DropKeptNames):
            engine.drop_backups(kept)
            results[number], kept = None, {}
            continue
        try:
            if isinstance(item, RestoreNames):
                # Interrupted here, the handler below puts the names back all the same.
                pause("restore-names")
                restore_names(engine, kept)
                results[number], kept = None, {}
                continue
            if isinstance(item, Verify) and item.ref not in read_ahead:
                read_ahead.update(read_indexes_ahead(engine, plan.steps[number - 1:], results))
            with _pull_status(item, plan.steps, number):
                results[number] = run_step(engine, item, results, read_ahead)
        except BaseException:
            if kept:
                console.warn("putting the local image names back as they were")
                restore_names(engine, kept)
            raise
        if isinstance(item, KeepNames):
            kept = results[number]
    return results


@contextmanager
def _pull_status(item: Step, steps: tuple[Step, ...], number: int):
    """While a pull (step `number`) runs, docker prints nothing (--quiet): say which image, and which of the plan's pulls it is."""
    if not isinstance(item, Pull):
        yield
        return
    done = sum(isinstance(s, Pull) for s in steps[:number - 1])
    total = sum(isinstance(s, Pull) for s in steps)
    with console.live(f"pulling {item.ref} for {item.platform} ({done + 1} of {total} pulls)"):
        yield


# Compose's progress lines: " Container NAME  Stopping", " Network NAME  Removed", ...
_COMPOSE_EVENT = re.compile(r"^\s*(Container|Network|Volume)\s+(\S+)\s+([A-Z][a-z]+)\s*$")


class ComposeProgress:
    """What compose said it did to each container, network and volume, counted for a live status."""

    def __init__(self) -> None:
        self.state: dict[tuple[str, str], str] = {}

    def feed(self, line: str) -> bool:
        """Take one line of compose's output; True when it reported a resource's new state."""
        match = _COMPOSE_EVENT.match(line)
        if match:
            kind, name, state = match.groups()
            self.state[(kind.lower(), name)] = state.lower()
        return bool(match)

    def describe(self) -> str:
        """E.g. '3 containers: 1 stopping, 2 removed; 1 network: removed'."""
        parts = []
        for kind in ("container", "network", "volume"):
            states = [state for (k, _), state in self.state.items() if k == kind]
            if states:
                counted = ", ".join(f"{states.count(state)} {state}" for state in dict.fromkeys(states))
                parts.append(f"{len(states)} {kind}{'s' if len(states) > 1 else ''}: {counted}")
        return "; ".join(parts) or "waiting for compose"


@contextmanager
def compose_lines(label: str):
    """Pass compose's lines through as they come, under a live status that counts what it stopped, removed or started."""
    progress = ComposeProgress()
    with console.live(label) as update:
        def on_line(line: str) -> None:
            console.faint(line)
            if progress.feed(line):
                update(f"{label}: {progress.describe()}")

        yield on_line


# buildx' plain progress names every manifest it pushes: "#12 pushing manifest for REF@sha256:... 0.1s done".
_PUSHED = re.compile(r"pushing manifest for ([^\s@]+)")


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


def restore_names(engine: Engine, kept: dict[str, str | None]) -> None:
    for problem in engine.restore_names(kept):
        console.warn(problem)


def read_indexes_ahead(engine: Engine, steps: tuple[Step, ...], results: dict[int, object]) -> dict[str, object]:
    """The registry state of every ref in the run of Verify steps that starts `steps`.

    A ref this run already read keeps that index; the others are read now, in
    parallel. Each value is the index or the exception reading it raised;
    the steps still judge them one by one, in order, so a failure is
    reported at its own step.
    """
    from concurrent.futures import ThreadPoolExecutor
    from itertools import takewhile

    refs = dict.fromkeys(s.ref for s in takewhile(lambda s: isinstance(s, Verify), steps))
    ahead: dict[str, object] = {}
    for ref in refs:
        known = _index_read_this_run(results, ref)
        if known is not None:
            ahead[ref] = known
    unread = [ref for ref in refs if ref not in ahead]

    def read(ref: str) -> object:
        try:
            return engine.inspect_index(ref)
        except Exception as exc:  # noqa: BLE001 - re-raised by the step that asks for this ref
            return exc

    with ThreadPoolExecutor(max_workers=min(8, len(unread) or 1)) as pool:
        ahead.update(zip(unread, pool.map(read, unread)))
    return ahead


def run_step(engine: Engine, item: Step, results: dict[int, object], read_ahead: dict[str, object] | None = None) -> object:
    if isinstance(item, Build):
        pause("build")
        skipped = unchanged_targets(engine, item) if item.skip_unchanged else {}
        remaining = item.without(set(skipped))
        if remaining.targets and remaining.fallback_builder and not remaining.builder:
            remaining = replace(remaining, builder=choose_builder(engine, remaining))
        metadata = _bake_with_retry(engine, remaining) if remaining.targets else {}
        metadata.update(skipped)
        if item.load:
            # A skipped image's label already says it was built for this platform.
            _check_loaded(engine, remaining)
        return metadata
    if isinstance(item, Tag):
        for target in item.targets:
            engine.tag(item.source, target)
        return None
    if isinstance(item, Pull):
        if item.only_if_missing and engine.platform_available(item.ref, item.platform):
            console.info(f"  {item.ref}: the engine already holds {item.platform}")
            return item.platform
        pinned_only = isinstance(item, PullVerified)
        verified = _verified_digest(results, item.ref) if pinned_only else None
        if pinned_only and not verified:
            raise SignatureError(f"No signature of {item.ref} was verified in this run, so it was not pulled.")
        if verified:
            # Exactly what the signature covers, even if the tag moved since it was checked.
            pinned = f"{repository_of(item.ref)}@{verified}"
            engine.pull(replace(item, ref=pinned).call())
            engine.tag(pinned, item.ref)
        else:
            engine.pull(item.call())
        if not engine.platform_available(item.ref, item.platform):
            raise VerificationError(f"Pulled {item.ref}, but the engine holds no {item.platform} variant of it.",
                                    tip=f"Check that {item.ref} is published for {item.platform} (`{prog()} verify {item.ref}`).")
        console.info(f"  {item.ref}: got {item.platform}")
        return item.platform
    if isinstance(item, ComposeUp):
        if item.skip_if_current and not item.services:
            from polyarch.planning.uptodate import judge

            hashes, containers, replicas = engine.compose_state(item.compose)
            names = tuple(sorted({c.image_name for c in containers}))
            verdict = judge(hashes, containers, {n: image.id for n, image in engine.local_images(names).items()}, replicas)
            if verdict.current:
                console.info(f"  every container of {item.compose.project} already runs its current configuration and image; "
                             "nothing to start or recreate")
                return "current"
            # A full `up`: compose recreates just the stale services. (`--no-deps`
            # would label them with a hash computed without their depends_on,
            # so the next run would see them stale again.)
            console.info(f"  compose up: {verdict.describe()}")
        compose_up_and_wait(engine, item)
        return None
    if isinstance(item, ComposeRemove):
        with console.live(f"stopping and removing {', '.join(item.services)}"):
            engine.compose_remove(item.compose, item.call())
        return None
    if isinstance(item, ComposeDown):
        with compose_lines(f"stopping {item.compose.project}") as on_line:
            engine.compose_down(item.compose, item.call(), on_line)
        return None
    if isinstance(item, RemoveImages):
        with console.live(f"removing up to {len(item.refs)} images" + (" and the published tags" if item.repositories else "")):
            removed = engine.remove_images(item.refs, item.prune_dangling, item.repositories)
        console.info(f"  removed {len(removed)} images" + (f": {', '.join(removed)}" if removed else ""))
        return removed
    if isinstance(item, CheckImages):
        return check_images(engine, item)
    if isinstance(item, Verify):
        known = (read_ahead or {}).get(item.ref)
        if isinstance(known, Exception):
            raise known
        index = verify_index(engine, item.ref, item.platforms, known)
        if item.single and not (index.one_image and index.platforms == item.platforms):
            what = "a manifest list" if not index.one_image else f"a {', '.join(index.platforms)} image"
            raise VerificationError(
                f"{item.ref} is {what}, not a single {', '.join(item.platforms)} manifest "
                "(bare, or in an index with its attestations); nothing was merged.",
                tip="Each digest file must hold the digest publish-build pushed for exactly that platform.")
        _check_labels(item, index)
        return index
    if isinstance(item, CreateManifest):
        engine.create_manifest(item.tags, item.sources, dict(item.annotations))
        return None
    if isinstance(item, RecordDigests):
        from polyarch.adapters.digests import is_digest, write_digest

        metadata = _last_build_metadata(results)
        digests = {image: (metadata.get(image) or {}).get("containerimage.digest", "") for image in item.images}
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
        return written
    if isinstance(item, CopyByDigest):
        digest = (_last_build_metadata(results).get(item.image) or {}).get("containerimage.digest")
        if not digest:
            raise VerificationError(f"buildx reported no digest for {item.image}, so it was not copied to {item.destination}.")
        engine.create_manifest((f"{item.destination}@{digest}",), (f"{item.source}@{digest}",))
        from polyarch.adapters.registry import delete_manifest

        why_not = delete_manifest(item.source, digest)
        if why_not:
            console.warn(f"the staging copy {item.source}@{digest} stays in the registry: {why_not}; "
                         "delete it there when convenient (a docker-container builder avoids staging altogether)")
        return digest
    if isinstance(item, RemoveBuilder):
        engine.remove_builder(item.name)
        return None
    if isinstance(item, AddBuilderNode):
        engine.add_builder_node(item.name, item.platform, item.endpoint, item.append)
        return None
    if isinstance(item, SaveBundle):
        return save_bundle(engine, item)
    if isinstance(item, FetchBundle):
        return fetch_bundle(engine, item)
    if isinstance(item, KeepNames):
        return engine.keep_names(item.names)
    if isinstance(item, LoadBundle):
        return load_bundle(engine, item)
    if isinstance(item, (SignImage, VerifySignature, VerifyBundleSignature)):
        return run_signing_step(engine, item, results)
    if isinstance(item, InitEnv):
        from polyarch.model.envfile import InitResult, apply_init

        return apply_init(item.path, InitResult(item.create, item.example, item.fill, item.kept))
    if isinstance(item, WriteFiles):
        from polyarch.adapters.files import write_atomic

        for path, text in item.files:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, text)
        return None
    if isinstance(item, UpdateValues):
        from polyarch.model.values import write_tag

        write_tag(item.path, item.tag, item.refs)
        return None
    raise TypeError(f"no executor for {type(item).__name__}")


def run_signing_step(engine: Engine, item: SignImage | VerifySignature | VerifyBundleSignature, results: dict[int, object]) -> object:
    """cosign's steps: sign a verified list by digest, check an image's or a bundle's signature."""
    from polyarch.adapters import cosign

    if isinstance(item, SignImage):
        index = _index_verified_this_run(results, item.ref) or engine.inspect_index(item.ref)
        pinned = f"{repository_of(item.ref)}@{index.digest}"
        cosign.sign_image(pinned, item.key)
        console.done(f"signed {pinned}")
        return index.digest
    if isinstance(item, VerifySignature):
        engine.inspect_index(item.ref)  # a missing tag is said as such, with the tags the registry has
        digest = check_image_signature(item.ref, item.public_key, "nothing was pulled or started")
        return {"verified": item.ref, "digest": digest}
    if not item.signature.is_file():
        raise SignatureError(f"{item.bundle.name} has no signature beside it ({item.signature.name}), so it was not loaded.",
                             tip="Copy the bundle with its .sig (package-airtight writes it when [signing] key is set).")
    try:
        with console.status(f"checking the signature of {item.bundle.name}"):
            cosign.verify_blob(item.bundle, item.public_key, item.signature)
    except SignatureError as exc:
        if exc.reason is None:
            raise
        raise SignatureError(f"{item.bundle.name} does not match its signature {item.signature.name} for the key "
                             f"{item.public_key} (cosign: {exc.reason}): it was changed after signing, or signed "
                             "with another key; nothing was loaded.",
                             tip="Get the bundle and its .sig again from whoever packaged it, and check that --key is "
                                 "their public key.") from None
    console.done(f"{item.bundle.name} is signed by the key {item.public_key.name}")
    return None


def check_image_signature(ref: str, public_key, consequence: str) -> str:
    """The digest `ref`'s signature covers, or a SignatureError naming the image, the key and the consequence."""
    from polyarch.adapters import cosign

    try:
        digest = cosign.verify_image(ref, public_key)
    except SignatureError as exc:
        if exc.reason is None:
            raise
        raise SignatureError(f"{ref} is not signed with the key {public_key} (cosign: {exc.reason}); "
                             f"{consequence}.",
                             tip="Use only images published with the project's signing key, or check --key / "
                                 "[signing] public_key.") from None
    console.done(f"{ref} is signed by the key {public_key.name} ({digest})")
    return digest


def _verified_digest(results: dict[int, object], ref: str) -> str | None:
    """The digest a VerifySignature step of this run checked for `ref`."""
    for result in results.values():
        if isinstance(result, dict) and result.get("verified") == ref:
            return result["digest"]
    return None


def _index_verified_this_run(results: dict[int, object], ref: str):
    """The index a Verify step of this run read for `ref` (so the signature covers what was verified)."""
    from polyarch.adapters.docker.engine import ImageIndex

    for result in reversed(list(results.values())):
        if isinstance(result, ImageIndex) and result.ref == ref:
            return result
    return None


# How long services may take to become running/healthy once compose's own wait stopped at a finished job.
READY_TIMEOUT = 300
LOG_LINES = 15


def compose_up_and_wait(engine: Engine, item: ComposeUp) -> None:
    """`compose up --wait`; when it stops at an exited container, judge the project itself.

    Compose 2.26 counts a one-shot job that exited 0 as a failure: polyarch
    waits on until every service runs (healthy where it has a check) and
    every job has exited 0, and fails naming a job that exited non-zero or a
    service that is unhealthy, with its last log lines.
    """
    from polyarch.execution.readiness import judge_ready, stopped_at_container

    try:
        with compose_lines(f"starting {item.compose.project}") as on_line:
            engine.compose_up(item.compose, item.call(), on_line)
        return
    except EngineError as exc:
        if not stopped_at_container(exc.message):
            raise
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        verdict = judge_ready(engine.compose_containers(item.compose))
        if verdict.ready:
            console.info(f"  every service of {item.compose.project} is up; one-shot jobs finished with exit code 0")
            return
        if verdict.failed or time.monotonic() > deadline:
            failed = verdict.failed or tuple((s, f"is still not running (healthy) after {READY_TIMEOUT} s") for s in verdict.waiting)
            raise EngineError(_not_ready_message(engine, item, failed),
                              f"Read the whole log with `{prog()} logs {failed[0][0]}`, fix the service, and start the stack again.")
        time.sleep(1)


def _not_ready_message(engine: Engine, item: ComposeUp, failed: tuple[tuple[str, str], ...]) -> str:
    parts = []
    for service, why in failed:
        lines = [line.rstrip() for line in engine.compose_logs(item.compose, [service], follow=False, tail=LOG_LINES)]
        shown = "\n".join(f"    {line}" for line in lines) or "    (no output)"
        parts.append(f"Service '{service}' {why}; its last log lines:\n{shown}")
    return f"The {item.compose.project} stack did not come up.\n" + "\n".join(parts)


# A registry's 5xx during a push is usually a moment's contention (distribution's
# filesystem store, say, races when one push writes a tag from several
# requests at once); the build is cached, so another try costs only the push.
PUSH_ATTEMPTS = 5


def choose_builder(engine: Engine, build: Build) -> str | None:
    """The current builder (None) if it builds every platform at once, else the fallback, created once."""
    from concurrent.futures import ThreadPoolExecutor

    from polyarch.execution.doctor import can_build, judge_builder

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


def _bake_with_retry(engine: Engine, build: Build) -> dict:
    """Bake; a push that failed on a registry 5xx is tried again, a little later each time (the build itself is cached)."""
    pushes = build.pushes
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        try:
            with bake_lines(build) as on_line:
                return engine.bake(build, metadata=pushes, on_line=on_line)
        except EngineError as exc:
            if not (pushes and exc.transient) or attempt == PUSH_ATTEMPTS:
                raise
            console.warn(f"the registry answered with a server error during the push; trying again in {attempt} s "
                         f"({attempt + 1}/{PUSH_ATTEMPTS})")
            time.sleep(attempt)
    raise AssertionError("unreachable")


def _last_build_metadata(results: dict[int, object]) -> dict:
    return next(r for r in reversed(list(results.values())) if isinstance(r, dict))


def unchanged_targets(engine: Engine, build: Build) -> dict[str, dict]:
    """Targets whose tag already carries the same input fingerprint, with their digests."""
    from concurrent.futures import ThreadPoolExecutor

    from polyarch.planning.fingerprint import ANNOTATION

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
            skipped[target.name] = {"containerimage.digest": index.digest, "skipped": True, "index": index}
    return skipped


def unchanged_local_targets(engine: Engine, build: Build) -> dict[str, dict]:
    """Targets whose every local name is one image already labelled with the same input fingerprint."""
    from polyarch.planning.fingerprint import ANNOTATION

    candidates = [t for t in build.targets if t.fingerprint and t.tags]
    held = engine.local_images(tuple(tag for t in candidates for tag in t.tags))
    skipped = {}
    for target in candidates:
        found = [held.get(tag) for tag in target.tags]
        if all(found) and len({image.id for image in found}) == 1 \
                and all(image.labels.get(ANNOTATION) == target.fingerprint for image in found):
            console.info(f"  {target.name}: the local image already holds these inputs; not rebuilt")
            skipped[target.name] = {"skipped": True, "image_id": found[0].id}
    return skipped


def check_images(engine: Engine, item: CheckImages) -> None:
    """Every image present; with a platform, runnable there; with image IDs, exactly those."""
    held = engine.local_images(item.refs)
    missing = [r for r in item.refs if r not in held]
    if missing:
        raise EngineError(f"These images are missing from the engine: {', '.join(missing)}.", item.tip or None)
    if item.image_ids:
        # A name may carry two promised IDs: the manifest digest (containerd
        # image store) and the config digest (classic store); either matches.
        promised: dict[str, set[str]] = {}
        for ref, image_id in item.image_ids:
            promised.setdefault(comparable(ref), set()).add(image_id)
        wrong = [ref for ref in item.refs if comparable(ref) in promised and held[ref].id not in promised[comparable(ref)]]
        if wrong:
            raise VerificationError(f"After loading, {', '.join(wrong)} are not the images the bundle names (other image IDs); the stack was not started.",
                                    tip="The bundle's manifest does not match its content: package it again.")
    if item.platform:
        from concurrent.futures import ThreadPoolExecutor

        # An image that reports the platform runs there; only the others (a
        # multi-platform name reports just one of its platforms) are probed.
        unsure = [ref for ref in item.refs if held[ref].platform != item.platform]
        with ThreadPoolExecutor(max_workers=min(8, len(unsure) or 1)) as pool:
            runnable = list(pool.map(lambda ref: engine.platform_available(ref, item.platform), unsure))
        foreign = [ref for ref, ok in zip(unsure, runnable) if not ok]
        if foreign:
            raise VerificationError(f"{', '.join(foreign)} cannot run as {item.platform} (the engine holds another platform of them); the stack was not started.",
                                    tip=f"Use a bundle made for {item.platform} (`{prog()} package-airtight --platform {item.platform}`).")
    return None


def _check_labels(item: Verify, index) -> None:
    """A merge source must carry the labels publish-build stamped on the image it built, else it is another image."""
    wrong = [(key, index.labels.get(key)) for key, value in item.labels if index.labels.get(key) != value]
    if wrong:
        repository, digest = repository_of(item.ref), split_ref(item.ref).digest
        said = "; ".join(f"{key} is {found!r}" if found is not None else f"it has no {key} label" for key, found in wrong)
        expected = ", ".join(f"{key}={value}" for key, value in item.labels)
        raise VerificationError(
            f"{repository} for {', '.join(item.platforms)}: the digest {digest} is not the image publish-build built ({said}; "
            f"expected {expected}); nothing was merged.",
            tip="The digest file must hold what publish-build wrote for this image, platform and commit; run publish-build again.")


def _check_loaded(engine: Engine, build: Build) -> None:
    """After a --load build, each target's image must hold the platform asked for.

    A target's tags all name the one image it built, so one tag per target is checked.
    """
    for target in build.targets:
        (wanted,) = target.platforms
        if target.tags and not engine.platform_available(target.tags[0], wanted):
            raise VerificationError(f"{target.tags[0]} was built for {wanted}, but the engine holds no {wanted} variant of it.")


def _index_read_this_run(results: dict[int, object], ref: str):
    """The registry state of `ref` read earlier in this run, when nothing pushed it since."""
    for result in results.values():
        if isinstance(result, dict):
            for entry in result.values():
                if isinstance(entry, dict) and entry.get("skipped") and entry["index"].ref == ref:
                    return entry["index"]
    return None


def verify_index(engine: Engine, ref: str, platforms: tuple[str, ...], index=None):
    """Fail unless the tag in the registry serves every platform asked for."""
    index = index or engine.inspect_index(ref)
    missing = [p for p in platforms if p not in index.platforms]
    if missing:
        raise VerificationError(
            f"{ref} does not serve {', '.join(missing)}; it lists {', '.join(index.platforms) or 'no platforms'}.",
            tip=f"Rebuild and push it for every platform (`{prog()} deploy-build`), or ask for fewer with --platforms.",
        )
    return index


def save_bundle(engine: Engine, item: SaveBundle) -> dict:
    """Write the bundle to a temporary name and rename it into place only when complete."""
    import gzip

    from polyarch import __version__
    from polyarch.adapters.bundle import BundleManifest, compress_stream, manifest_member

    manifest = BundleManifest(item.stack, item.version, item.platform,
                              engine.image_ids(item.refs), __version__)
    counted = {"raw": 0, "seconds": 0.0}
    started = time.monotonic()

    def write(sink) -> None:
        sink.write(gzip.compress(manifest_member(manifest), compresslevel=item.level, mtime=0))
        with engine.save_stream(item.refs) as stream, \
                console.progress_bytes(f"docker save of {len(item.refs)} images + gzip") as advance:
            pause("save")

            def count(n: int) -> None:
                if not counted["raw"]:
                    pause("compress")
                counted["raw"] += n
                advance(counted["raw"], sink.tell())

            compress_stream(stream, sink, item.level, on_raw=count)
        counted["seconds"] = time.monotonic() - started  # save + compress, without the checksum pass

    digest = _write_bundle(item, write)
    return {"raw_bytes": counted["raw"], "seconds": counted["seconds"], "sha256": digest}


def _write_bundle(item: SaveBundle | FetchBundle, write) -> str:
    """Write the bundle under a temporary name, then its checksum, and rename both into place; returns the sha256.

    `write(sink)` fills the file and returns its sha256 if it computed it
    on the way (else the file is read once more). Any failure leaves
    neither file behind.
    """
    from polyarch.adapters.bundle import PendingFiles, checksum_line, sha256_of

    pending = PendingFiles(item.bundle, item.checksum)
    pending.discard()
    signature = item.signature
    tmp_signature = signature.path.with_name(f".{signature.path.name}.{pending.run_id}.partial") if signature else None
    publishing = signature_placed = False
    try:
        with pending.tmp_bundle.open("wb") as sink:
            digest = write(sink)
        digest = digest or sha256_of(pending.tmp_bundle)
        pending.tmp_checksum.write_text(checksum_line(digest, item.bundle))
        if signature is not None:
            _sign_bundle(pending.tmp_bundle, signature.key, tmp_signature)
            # cosign writes it owner-only; it is as public as the bundle beside it.
            os.chmod(tmp_signature, pending.tmp_bundle.stat().st_mode & 0o777)
            # The signature goes into place first; an older one beside the bundle would not match it.
            os.replace(tmp_signature, signature.path)
            signature_placed = True
        publishing = True
        pending.publish()
    except BaseException as exc:
        if publishing and not pending.tmp_bundle.exists():
            raise  # renamed into place, with its checksum and signature, before the interruption
        if tmp_signature is not None:
            tmp_signature.unlink(missing_ok=True)
        if signature_placed:
            signature.path.unlink(missing_ok=True)
        pending.discard()
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise BundleError(f"The disk holding {item.bundle.parent} is full, so no bundle was written "
                              f"({item.bundle.name} and its checksum were not created).",
                              tip="Free space on that disk, or write the bundle to another folder with --output FOLDER.") from None
        console.warn(f"no bundle was written: {item.bundle.name} and its checksum were not created")
        raise
    return digest


def _sign_bundle(path, key, signature) -> None:
    from polyarch.adapters import cosign

    with console.status(f"signing the bundle with {key.name} (cosign sign-blob)"):
        cosign.sign_blob(path, key, signature)


def fetch_bundle(engine: Engine, item: FetchBundle) -> dict:
    """Resolve every image in its registry, then stream the blobs into the bundle; renamed into place only when complete."""
    import gzip

    from polyarch import __version__
    from polyarch.adapters.bundle import BundleManifest, manifest_member
    from polyarch.adapters.ocibundle import HashingWriter, resolve_all, write_layout

    mirrors = engine.registry_mirrors()
    started = time.monotonic()
    bundled, problems = resolve_all(item.images, item.platform, mirrors)
    if problems:
        raise BundleError("No bundle was written: " + "; ".join(problems) + ".",
                          tip=f"Check that the registry is reachable and holds that version (`{prog()} verify REF`), "
                              "or package from the engine by leaving out --registry.")
    images = tuple(bundled)
    manifest = BundleManifest(item.stack, item.version, item.platform,
                              {n: b.image.manifest.digest for b in images for n in b.names}, __version__,
                              configs={n: b.image.config.digest for b in images for n in b.names})
    total = {"blobs": 0, "written": 0}

    def write(sink) -> str:
        out = HashingWriter(sink)
        out.write(gzip.compress(manifest_member(manifest), compresslevel=item.level, mtime=0))
        with console.progress_bytes(f"{len(images)} images: registry -> bundle") as advance:
            def count(n: int) -> None:
                total["blobs"] += n
                advance(total["blobs"], out.written)

            write_layout(out, images, item.level, on_blob=count)
        total["written"] = out.written
        return out.digest.hexdigest()

    digest = _write_bundle(item, write)
    return {"raw_bytes": total["written"], "seconds": time.monotonic() - started, "sha256": digest}


def load_bundle(engine: Engine, item: LoadBundle) -> list[str]:
    """`docker load` the bundle while its sha256 is computed beside it; a failure is explained from the file.

    Both read the same file at the same time, so the disk is read once (the
    second reader is served from the page cache) and the hash costs no time
    on top of the load unless the CPU is the limit.
    """
    from concurrent.futures import ThreadPoolExecutor

    from polyarch.adapters.bundle import check_gzip_complete, sha256_of

    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(sha256_of, item.bundle) if item.sha256 else None
        try:
            loaded = engine.load(item.bundle)
        except EngineError:
            # Say why in the file's terms: not what the checksum file says, or truncated.
            if hashing is not None and hashing.result() != item.sha256:
                raise _mismatch(item) from None
            check_gzip_complete(item.bundle)
            raise
        if hashing is not None and hashing.result() != item.sha256:
            raise _mismatch(item)
    if item.sha256:
        console.done(f"sha256 matches {item.bundle.name}.sha256")
    console.info(f"  loaded {len(loaded)} images")
    return loaded


def _mismatch(item: LoadBundle) -> BundleError:
    return BundleError(f"{item.bundle.name} does not match its .sha256: the download is corrupt or incomplete; "
                       "the images it held were not kept.",
                       tip="Download or copy the bundle again, with its .sha256.")
