"""Registry steps: verify what a tag serves (reading a run of Verify steps ahead, together), create manifest lists."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import takewhile

from polyarch.adapters.docker.engine import Engine
from polyarch.core.errors import VerificationError
from polyarch.core.imageref import repository_of
from polyarch.core.imageref import split as split_ref
from polyarch.core.progname import prog
from polyarch.execution.handlers.state import RunState
from polyarch.execution.results import BuildResult, RunLog, VerifyResult
from polyarch.planning.plans import Step
from polyarch.planning.steps.release import CreateManifest, Verify


def verify(engine: Engine, item: Verify, state: RunState) -> VerifyResult:
    known = state.read_ahead.get(item.ref)
    if isinstance(known, Exception):
        raise known
    index = verify_index(engine, item.ref, item.platforms, known, labels=bool(item.labels))
    if item.single and not (index.one_image and index.platforms == item.platforms):
        what = "a manifest list" if not index.one_image else f"a {', '.join(index.platforms)} image"
        raise VerificationError(
            f"{item.ref} is {what}, not a single {', '.join(item.platforms)} manifest "
            "(bare, or in an index with its attestations); nothing was merged.",
            tip="Each digest file must hold the digest publish-build pushed for exactly that platform.")
    _check_labels(item, index)
    return VerifyResult(index)


def create_manifest(engine: Engine, item: CreateManifest, state: RunState) -> None:
    engine.create_manifest(item.tags, item.sources, dict(item.annotations))


HANDLERS = {
    Verify: verify,
    CreateManifest: create_manifest,
}


def verify_index(engine: Engine, ref: str, platforms: tuple[str, ...], index=None, labels: bool = False):
    """Fail unless the tag in the registry serves every platform asked for (reading its labels too when asked)."""
    index = index or engine.inspect_index(ref, labels=labels)
    missing = [p for p in platforms if p not in index.platforms]
    if missing:
        raise VerificationError(
            f"{ref} does not serve {', '.join(missing)}; it lists {', '.join(index.platforms) or 'no platforms'}.",
            tip=f"Rebuild and push it for every platform (`{prog()} deploy-build`), or ask for fewer with --platforms.",
        )
    return index


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


def read_indexes_ahead(engine: Engine, steps: tuple[Step, ...], log: RunLog) -> dict[str, object]:
    """The registry state of every ref in the run of Verify steps that starts `steps`.

    A ref this run already read keeps that index; the others are read now, in
    parallel. Each value is the index or the exception reading it raised;
    the steps still judge them one by one, in order, so a failure is
    reported at its own step.
    """
    run = list(takewhile(lambda s: isinstance(s, Verify), steps))
    refs = dict.fromkeys(s.ref for s in run)
    # Only a step that checks labels needs the image config read with the index.
    with_labels = {s.ref for s in run if s.labels}
    ahead: dict[str, object] = {}
    for ref in refs:
        known = index_read_this_run(log, ref) if ref not in with_labels else None
        if known is not None:
            ahead[ref] = known
    unread = [ref for ref in refs if ref not in ahead]

    def read(ref: str) -> object:
        try:
            return engine.inspect_index(ref, labels=ref in with_labels)
        except Exception as exc:  # noqa: BLE001 - re-raised by the step that asks for this ref
            return exc

    with ThreadPoolExecutor(max_workers=min(8, len(unread) or 1)) as pool:
        ahead.update(zip(unread, pool.map(read, unread)))
    return ahead


def index_read_this_run(log: RunLog, ref: str):
    """The registry state of `ref` a Build step of this run read and found unchanged (nothing pushed it since)."""
    for build in log.all(BuildResult):
        index = build.index_of(ref)
        if index is not None:
            return index
    return None
