"""Bundle steps: write a bundle from the engine (docker save) or from registries, and load one."""

from __future__ import annotations

import errno
import gzip
import os
import time
from concurrent.futures import ThreadPoolExecutor

from polyarch import __version__
from polyarch.adapters import cosign
from polyarch.adapters.bundle import (BundleManifest, PendingFiles, check_gzip_complete, checksum_line, compress_stream, manifest_member,
                                      sha256_of)
from polyarch.adapters.docker.engine import Engine
from polyarch.adapters.ocibundle import HashingWriter, resolve_all, write_layout
from polyarch.core import console
from polyarch.core.errors import BundleError, EngineError
from polyarch.core.progname import prog
from polyarch.core.testpause import pause
from polyarch.execution.handlers.state import RunState
from polyarch.execution.results import BundleLoaded, BundleWritten
from polyarch.planning.steps.bundle import FetchBundle, LoadBundle, SaveBundle


def save_bundle(engine: Engine, item: SaveBundle, state: RunState | None = None) -> BundleWritten:
    """Write the bundle to a temporary name and rename it into place only when complete."""
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
    return BundleWritten(counted["raw"], counted["seconds"], digest)


def _write_bundle(item: SaveBundle | FetchBundle, write) -> str:
    """Write the bundle under a temporary name, then its checksum, and rename both into place; returns the sha256.

    `write(sink)` fills the file and returns its sha256 if it computed it
    on the way (else the file is read once more). Any failure leaves
    neither file behind.
    """
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
    with console.status(f"signing the bundle with {key.name} (cosign sign-blob)"):
        cosign.sign_blob(path, key, signature)


def fetch_bundle(engine: Engine, item: FetchBundle, state: RunState | None = None) -> BundleWritten:
    """Resolve every image in its registry, then stream the blobs into the bundle; renamed into place only when complete."""
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
    return BundleWritten(total["written"], time.monotonic() - started, digest)


def load_bundle(engine: Engine, item: LoadBundle, state: RunState | None = None) -> BundleLoaded:
    """`docker load` the bundle while its sha256 is computed beside it; a failure is explained from the file.

    Both read the same file at the same time, so the disk is read once (the
    second reader is served from the page cache) and the hash costs no time
    on top of the load unless the CPU is the limit.
    """
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
    return BundleLoaded(tuple(loaded))


def _mismatch(item: LoadBundle) -> BundleError:
    return BundleError(f"{item.bundle.name} does not match its .sha256: the download is corrupt or incomplete; "
                       "the images it held were not kept.",
                       tip="Download or copy the bundle again, with its .sha256.")


HANDLERS = {
    SaveBundle: save_bundle,
    FetchBundle: fetch_bundle,
    LoadBundle: load_bundle,
}
