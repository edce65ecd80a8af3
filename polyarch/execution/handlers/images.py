"""Local image steps: tag, pull (by the verified digest for a PullVerified), remove, check, keep and restore names."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from polyarch.adapters.docker.engine import Engine
from polyarch.core import console
from polyarch.core.errors import EngineError, SignatureError, VerificationError
from polyarch.core.imageref import comparable, repository_of
from polyarch.core.progname import prog
from polyarch.core.testpause import pause
from polyarch.execution.handlers.state import RunState
from polyarch.execution.results import ImagesRemoved, NamesKept, PullResult, SignatureVerified
from polyarch.planning.steps.images import CheckImages, DropKeptNames, KeepNames, Pull, PullVerified, RemoveImages, RestoreNames, Tag


def tag(engine: Engine, item: Tag, state: RunState) -> None:
    for target in item.targets:
        engine.tag(item.source, target)


def pull(engine: Engine, item: Pull, state: RunState) -> PullResult:
    if _already_held(engine, item):
        return PullResult(item.ref, item.platform, already=True)
    engine.pull(item.call())
    return _check_pulled(engine, item)


def pull_verified(engine: Engine, item: PullVerified, state: RunState) -> PullResult:
    """Exactly the digest the signature covers, even if the tag moved since it was checked."""
    if _already_held(engine, item):
        return PullResult(item.ref, item.platform, already=True)
    verified = state.log.first(SignatureVerified, lambda r: r.ref == item.ref)
    if verified is None or not verified.digest:
        raise SignatureError(f"No signature of {item.ref} was verified in this run, so it was not pulled.")
    pinned = f"{repository_of(item.ref)}@{verified.digest}"
    engine.pull(replace(item, ref=pinned).call())
    engine.tag(pinned, item.ref)
    return _check_pulled(engine, item)


def _already_held(engine: Engine, item: Pull) -> bool:
    if item.only_if_missing and engine.platform_available(item.ref, item.platform):
        console.info(f"  {item.ref}: the engine already holds {item.platform}")
        return True
    return False


def _check_pulled(engine: Engine, item: Pull) -> PullResult:
    if not engine.platform_available(item.ref, item.platform):
        raise VerificationError(f"Pulled {item.ref}, but the engine holds no {item.platform} variant of it.",
                                tip=f"Check that {item.ref} is published for {item.platform} (`{prog()} verify {item.ref}`).")
    console.info(f"  {item.ref}: got {item.platform}")
    return PullResult(item.ref, item.platform)


def remove_images(engine: Engine, item: RemoveImages, state: RunState) -> ImagesRemoved:
    with console.live(f"removing up to {len(item.refs)} images" + (" and the published tags" if item.repositories else "")):
        removed = engine.remove_images(item.refs, item.prune_dangling, item.repositories)
    console.info(f"  removed {len(removed)} images" + (f": {', '.join(removed)}" if removed else ""))
    return ImagesRemoved(tuple(removed))


def keep_names(engine: Engine, item: KeepNames, state: RunState) -> NamesKept:
    state.kept = engine.keep_names(item.names)
    return NamesKept(dict(state.kept))


def restore_kept_names(engine: Engine, item: RestoreNames, state: RunState) -> None:
    # Interrupted here, the run puts the names back all the same.
    pause("restore-names")
    restore_names(engine, state.kept)
    state.kept = {}


def drop_kept_names(engine: Engine, item: DropKeptNames, state: RunState) -> None:
    # Forgotten first: a failure dropping the backups must not put the old images back.
    kept, state.kept = state.kept, {}
    engine.drop_backups(kept)


def restore_names(engine: Engine, kept: dict[str, str | None]) -> None:
    for problem in engine.restore_names(kept):
        console.warn(problem)


def check_images(engine: Engine, item: CheckImages, state: RunState | None = None) -> None:
    """Every image present; with a platform, runnable there; with image IDs, exactly those."""
    held = engine.local_images(item.refs)
    missing = [r for r in item.refs if r not in held]
    if missing:
        raise EngineError(f"These images are missing from the engine: {', '.join(missing)}.", item.tip or None)
    if item.image_ids:
        _check_image_ids(item, held)
    if item.platform:
        _check_runnable(engine, item, held)


def _check_image_ids(item: CheckImages, held: dict) -> None:
    # A name may carry two promised IDs: the manifest digest (containerd
    # image store) and the config digest (classic store); either matches.
    promised: dict[str, set[str]] = {}
    for ref, image_id in item.image_ids:
        promised.setdefault(comparable(ref), set()).add(image_id)
    wrong = [ref for ref in item.refs if comparable(ref) in promised and held[ref].id not in promised[comparable(ref)]]
    if wrong:
        raise VerificationError(f"After loading, {', '.join(wrong)} are not the images the bundle names (other image IDs); the stack was not started.",
                                tip="The bundle's manifest does not match its content: package it again.")


def _check_runnable(engine: Engine, item: CheckImages, held: dict) -> None:
    # An image that reports the platform runs there; only the others (a
    # multi-platform name reports just one of its platforms) are probed.
    unsure = [ref for ref in item.refs if held[ref].platform != item.platform]
    with ThreadPoolExecutor(max_workers=min(8, len(unsure) or 1)) as pool:
        runnable = list(pool.map(lambda ref: engine.platform_available(ref, item.platform), unsure))
    foreign = [ref for ref, ok in zip(unsure, runnable) if not ok]
    if foreign:
        raise VerificationError(f"{', '.join(foreign)} cannot run as {item.platform} (the engine holds another platform of them); the stack was not started.",
                                tip=f"Use a bundle made for {item.platform} (`{prog()} package-airtight --platform {item.platform}`).")


HANDLERS = {
    Tag: tag,
    Pull: pull,
    PullVerified: pull_verified,
    RemoveImages: remove_images,
    CheckImages: check_images,
    KeepNames: keep_names,
    RestoreNames: restore_kept_names,
    DropKeptNames: drop_kept_names,
}
