"""Airtight bundles assembled from blobs a registry already holds, without the engine's export.

`docker save` passes every byte through dockerd and containerd (about 40 MB/s
on the 2-core machines here). When the images are in a registry, their
manifests, configs and layers are read over HTTP instead and written straight
into the bundle, each blob's digest checked while it streams and the bundle's
sha256 computed as it is written, so the file is read once.

The result is the same kind of file package-airtight always wrote: gzip
members that decompress to one tar whose first entry is the bundle manifest.
The rest is an OCI image layout (`oci-layout`, `index.json`, `blobs/`) plus
a `manifest.json` in `docker save`'s form, so plain `docker load` reads it
with either image store. Layers are already compressed, so their members are
stored, not compressed again; the small JSON members are compressed.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import queue
import threading
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from polyarch.adapters.bundle import tar_header, tar_padding
from polyarch.adapters.registry import Descriptor, RegistryHTTPError, RemoteImage, _why, open_blob, resolve_image
from polyarch.core.errors import BundleError
from polyarch.core.imageref import split as split_ref

_CHUNK = 1 << 20
_COMPRESSED = ("gzip", "zstd")


@dataclass(frozen=True)
class BundledImage:
    """An image as the bundle holds it: the local names it gets when loaded, and where it comes from."""

    names: tuple[str, ...]
    image: RemoteImage


class HashingWriter:
    """Writes to a file and keeps the sha256 and byte count of everything written."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.digest = hashlib.sha256()
        self.written = 0

    def write(self, data: bytes) -> None:
        self.sink.write(data)
        self.digest.update(data)
        self.written += len(data)


class _GzipMember:
    """One gzip member: stored (level 0) for data that is already compressed."""

    def __init__(self, out: HashingWriter, level: int) -> None:
        self.out = out
        self.engine = zlib.compressobj(level, zlib.DEFLATED, 31)

    def write(self, data: bytes) -> None:
        packed = self.engine.compress(data)
        if packed:
            self.out.write(packed)

    def close(self) -> None:
        self.out.write(self.engine.flush())


def write_member(out: HashingWriter, name: str, data: bytes, level: int) -> None:
    """A small tar entry (JSON) as its own compressed gzip member."""
    member = _GzipMember(out, level)
    member.write(tar_header(name, len(data), 0o444) + data + tar_padding(len(data)))
    member.close()


def _stream_blob(image: RemoteImage, blob: Descriptor) -> Iterator[bytes]:
    """The blob's bytes, checked against its digest and size as they arrive."""
    digest = hashlib.sha256()
    seen = 0
    try:
        with open_blob(image, blob) as response:
            while chunk := response.read(_CHUNK):
                seen += len(chunk)
                if seen > blob.size:
                    break
                digest.update(chunk)
                yield chunk
    except (OSError, http.client.HTTPException) as exc:
        raise RegistryHTTPError(f"the connection failed after {seen} bytes ({_why(exc)})") from None
    if seen != blob.size or "sha256:" + digest.hexdigest() != blob.digest:
        raise BundleError(f"{image.ref}: the registry sent {seen} bytes for {blob.digest} that do not match that digest "
                          f"({blob.size} bytes expected); no bundle was written.",
                          tip="Run package-airtight again; if it repeats, the registry's copy is damaged.")


def _prefetched(chunks: Iterator[bytes], depth: int = 8) -> Iterator[bytes]:
    """Read `chunks` in a thread, a few ahead, so the download and its digest overlap the writing."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def hand_over(item) -> bool:
        """Put `item` in the box unless the writer has given up (then the download stops too)."""
        while not stop.is_set():
            try:
                box.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for chunk in chunks:
                if not hand_over(chunk):
                    chunks.close()  # closes the HTTP response
                    return
            hand_over(done)
        except BaseException as exc:  # handed to the writer, which raises it
            hand_over(exc)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def resolve_all(items: tuple[tuple[tuple[str, ...], str], ...], platform: str,
                mirrors: tuple[str, ...]) -> tuple[list[BundledImage], list[str]]:
    """Resolve every (names, ref) in parallel: the images found, and what went wrong for the others.

    The readers are daemon threads, waited for a moment at a time, so Ctrl-C
    or SIGTERM stops the run at once: a reader stuck on a slow registry is
    abandoned, never waited for.
    """
    answers: queue.Queue = queue.Queue()
    slots = threading.BoundedSemaphore(8)

    def read(number: int, ref: str) -> None:
        with slots:
            try:
                answers.put((number, resolve_image(ref, platform, mirrors)))
            except BaseException as exc:  # handed to the caller, which reports or raises it
                answers.put((number, exc))

    for number, (_names, ref) in enumerate(items):
        threading.Thread(target=read, args=(number, ref), daemon=True, name=f"polyarch-resolve-{number}").start()
    found: dict[int, object] = {}
    while len(found) < len(items):
        try:
            number, answer = answers.get(timeout=0.5)
        except queue.Empty:
            continue
        found[number] = answer
    bundled, problems = [], []
    for number, (names, _ref) in enumerate(items):
        answer = found[number]
        if isinstance(answer, RegistryHTTPError):
            problems.append(str(answer))
        elif isinstance(answer, BaseException):
            raise answer
        else:
            bundled.append(BundledImage(names, answer))
    return bundled, problems


def write_blob(out: HashingWriter, image: RemoteImage, blob: Descriptor, level: int) -> None:
    """One blob as a tar entry `blobs/sha256/<hex>`, streamed from the registry."""
    already = any(kind in blob.media_type for kind in _COMPRESSED)
    member = _GzipMember(out, 0 if already else level)
    member.write(tar_header(f"blobs/sha256/{blob.digest.split(':', 1)[1]}", blob.size, 0o444))
    try:
        for chunk in _prefetched(_stream_blob(image, blob)):
            member.write(chunk)
    except RegistryHTTPError as exc:
        raise BundleError(f"{image.ref}: reading {blob.digest} failed: {exc}; no bundle was written.") from None
    member.write(tar_padding(blob.size))
    member.close()


def containerd_names(ref: str) -> tuple[str, str]:
    """A local name as containerd's importer stores it, and its index short name (the tag; a digest-only name gives its hex).

    polyarch-api -> (docker.io/library/polyarch-api:latest, latest).
    """
    parts = split_ref(ref)
    return parts.full(), parts.tag or parts.digest.partition(":")[2] or "latest"


def image_index(images: tuple[BundledImage, ...]) -> bytes:
    """`index.json`: one entry per local name, as containerd's importer names images."""
    entries = []
    for bundled in images:
        for name in bundled.names:
            full, short = containerd_names(name)
            entries.append({
                "mediaType": bundled.image.manifest.media_type,
                "digest": bundled.image.manifest.digest,
                "size": bundled.image.manifest.size,
                "annotations": {"io.containerd.image.name": full, "org.opencontainers.image.ref.name": short},
            })
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": entries}, indent=1).encode()


def repo_tag(name: str) -> str:
    """A name as the classic store's `docker load` accepts it: with a tag (redis -> redis:latest)."""
    return split_ref(name).with_tag()


def docker_manifest(images: tuple[BundledImage, ...]) -> bytes:
    """`manifest.json` in `docker save`'s form, for the classic image store's `docker load`."""
    return json.dumps([{
        "Config": f"blobs/sha256/{b.image.config.digest.split(':', 1)[1]}",
        "RepoTags": [repo_tag(name) for name in b.names],
        "Layers": [f"blobs/sha256/{layer.digest.split(':', 1)[1]}" for layer in b.image.layers],
    } for b in images], indent=1).encode()


def write_layout(out: HashingWriter, images: tuple[BundledImage, ...], level: int,
                 on_blob: Callable[[int], None] | None = None) -> None:
    """Everything after the bundle manifest: the blobs (each once), the layout files and the end of the tar."""
    written: set[str] = set()
    for bundled in images:
        manifest = bundled.image.manifest
        if manifest.digest not in written:
            write_member(out, f"blobs/sha256/{manifest.digest.split(':', 1)[1]}", bundled.image.manifest_bytes, level)
            written.add(manifest.digest)
        for blob in bundled.image.blobs():
            if blob.digest in written:
                continue
            write_blob(out, bundled.image, blob, level)
            written.add(blob.digest)
            if on_blob:
                on_blob(blob.size)
    write_member(out, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}', level)
    write_member(out, "index.json", image_index(images), level)
    write_member(out, "manifest.json", docker_manifest(images), level)
    end = _GzipMember(out, level)
    end.write(b"\0" * 1024)
    end.close()
