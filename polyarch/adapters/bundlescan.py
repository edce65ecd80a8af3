"""What a bundle would do to the engine, read from the file before anything is loaded.

`docker load` names images from the archive's own metadata: `manifest.json`
(`RepoTags`), OCI `index.json` (image-name annotations) and the legacy
`repositories` file. Whatever a bundle's polyarch manifest says, those are
the names the engine gets, so they are read here, with the image configs
they point at (for the platform), in one bounded pass over the file that
also computes its sha256. Every read has a size cap and every malformed
input becomes a BundleError.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import posixpath
import tarfile
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from polyarch.adapters.bundle import MANIFEST_LIMIT, MANIFEST_NAME, BundleManifest, manifest_from_json
from polyarch.core.errors import BundleError
from polyarch.core.imageref import comparable
from polyarch.core.imageref import split as split_ref
from polyarch.core.platforms import platform_from_parts
from polyarch.core.progname import prog

_CHUNK = 1 << 20
# docker load's own metadata files; each is refused above this size.
METADATA_FILES = ("manifest.json", "index.json", "repositories")
METADATA_LIMIT = 4 << 20
# Image configs and manifests are kept for the checks: small JSON members only, and not too many.
JSON_MEMBER_LIMIT = 1 << 20
JSON_TOTAL_LIMIT = 64 << 20
# What may follow the end of the tar archive (record padding is zeros, at most a few KB).
TRAILING_LIMIT = 1 << 20
_NAME_KEY = "io.containerd.image.name"
_REF_KEY = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class ArchivedImage:
    """One image `docker load` would create: the names it gets, the platforms it holds, its IDs."""

    names: tuple[str, ...]
    platforms: tuple[str, ...]
    ids: tuple[str, ...]


@dataclass(frozen=True)
class BundleContents:
    manifest: BundleManifest | None
    images: tuple[ArchivedImage, ...]
    sha256: str

    def names(self) -> set[str]:
        return {name for image in self.images for name in image.names}


class _CountingReader:
    """Says how many bytes of the file the decompression has read."""

    def __init__(self, handle, on_bytes: Callable[[int], None] | None) -> None:
        self.handle = handle
        self.on_bytes = on_bytes

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        if self.on_bytes and data:
            self.on_bytes(len(data))
        return data


class _Hasher:
    """The file's sha256, computed in a thread beside the scan (the two share the 2 cores, not the time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stop = threading.Event()
        self.result: str | BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="polyarch-bundle-sha256")
        self.thread.start()

    def _run(self) -> None:
        digest = hashlib.sha256()
        try:
            with self.path.open("rb") as handle:
                while not self.stop.is_set() and (chunk := handle.read(_CHUNK)):
                    digest.update(chunk)
            self.result = digest.hexdigest()
        except BaseException as exc:  # raised by wait()
            self.result = exc

    def wait(self) -> str:
        while self.thread.is_alive():
            self.thread.join(0.5)  # a moment at a time, so Ctrl-C is not held up
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result or ""


def scan_bundle(path: Path, on_bytes: Callable[[int], None] | None = None, sha256: bool = True) -> BundleContents:
    """Read `path` once: the names and platforms `docker load` would give, the polyarch manifest and (with `sha256`) its sha256."""
    hasher = _Hasher(path) if sha256 else None
    scanned = False
    try:
        with path.open("rb") as handle, gzip.GzipFile(fileobj=_CountingReader(handle, on_bytes), mode="rb") as stream:
            first, metadata, blobs = _read_members(path, stream)
            _refuse_trailing_data(path, stream)
        manifest = manifest_from_json(path, first) if first is not None else None
        images = _images(path, metadata, blobs)
        scanned = True
    except EOFError:
        raise BundleError(f"{path} ends early: the file is truncated; nothing was loaded.",
                          tip="Copy or download the bundle again, completely.") from None
    except (OSError, zlib.error, tarfile.TarError) as exc:
        raise BundleError(f"{path} is not a readable gzip'd image archive ({exc}); nothing was loaded.",
                          tip=f"Give the .tar.gz that `{prog()} package-airtight` wrote; copy it again if it came over a network.") from None
    finally:
        if hasher is not None and not scanned:
            hasher.stop.set()  # refused (or interrupted): the checksum is not needed
    return BundleContents(manifest, images, hasher.wait() if hasher is not None else "")


def _member_name(path: Path, info: tarfile.TarInfo) -> str:
    name = posixpath.normpath(info.name)
    if name.startswith("/") or name == ".." or name.startswith("../"):
        raise BundleError(f"{path} holds an entry outside the archive ({info.name[:100]!r}); nothing was loaded.")
    return name


def _read_members(path: Path, stream) -> tuple[bytes | None, dict[str, bytes], dict[str, bytes]]:
    """The polyarch manifest (if first), docker's metadata files and the small JSON members, each size-capped."""
    first: bytes | None = None
    metadata: dict[str, bytes] = {}
    blobs: dict[str, bytes] = {}
    kept = 0
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for number, info in enumerate(archive):
            name = _member_name(path, info)
            if name == MANIFEST_NAME and number == 0:
                if info.size > MANIFEST_LIMIT or not info.isreg():
                    raise BundleError(f"{path} claims a {info.size}-byte {MANIFEST_NAME}; a real one is a few KB, so the bundle is not trusted.")
                first = archive.extractfile(info).read(MANIFEST_LIMIT)
                continue
            if name in METADATA_FILES:
                if name in metadata or not info.isreg():
                    raise BundleError(f"{path} holds {name} twice or as a link; nothing was loaded.",
                                      tip="Make the bundle again with package-airtight (or a plain `docker save`).")
                if info.size > METADATA_LIMIT:
                    raise BundleError(f"{path} holds a {info.size}-byte {name} (more than {METADATA_LIMIT >> 20} MiB); nothing was loaded.")
                metadata[name] = archive.extractfile(info).read(METADATA_LIMIT)
                continue
            if info.isreg() and 0 < info.size <= JSON_MEMBER_LIMIT:
                data = archive.extractfile(info).read(JSON_MEMBER_LIMIT)
                if data.lstrip()[:1] == b"{":
                    kept += len(data)
                    if kept > JSON_TOTAL_LIMIT:
                        raise BundleError(f"{path} holds more than {JSON_TOTAL_LIMIT >> 20} MiB of small JSON entries; "
                                          "no image bundle needs that many, so it is not trusted.")
                    blobs[name] = data
    return first, metadata, blobs


def _refuse_trailing_data(path: Path, stream) -> None:
    """After the tar's end marker only a little zero padding may follow (never read to the end of a bomb)."""
    rest = stream.read(TRAILING_LIMIT + 1)
    if len(rest) > TRAILING_LIMIT or rest.strip(b"\0"):
        raise BundleError(f"{path} has data after the end of its image archive; nothing was loaded.",
                          tip="A bundle is exactly what package-airtight wrote: copy it again, without anything appended.")


def _json(path: Path, what: str, data: bytes):
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise BundleError(f"{path} holds an unreadable {what}; nothing was loaded.") from None


def _blob_path(path: Path, reference: object) -> str:
    if not isinstance(reference, str):
        raise BundleError(f"{path} has a malformed manifest.json (a Config that is not a path); nothing was loaded.")
    return posixpath.normpath(reference)


def _digest_name(digest: object) -> str:
    return f"blobs/sha256/{digest.split(':', 1)[1]}" if isinstance(digest, str) and digest.startswith("sha256:") else ""


def _config_platform(path: Path, name: str, blobs: dict[str, bytes]) -> tuple[str, str]:
    """(platform, config digest) of the image config stored as `name`."""
    data = blobs.get(name)
    if data is None:
        raise BundleError(f"{path} names the image config {name[:100]}, which it does not hold (or holds as a link "
                          "or too large to be a config); its platform cannot be checked, so nothing was loaded.")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if name.startswith("blobs/sha256/") and name != _digest_name(digest):
        raise BundleError(f"{path}: the image config {name[:100]} does not match its digest; nothing was loaded.")
    config = _json(path, f"image config ({name[:100]})", data)
    if not isinstance(config, dict) or not isinstance(config.get("os"), str) or not isinstance(config.get("architecture"), str):
        raise BundleError(f"{path}: the image config {name[:100]} names no os and architecture; nothing was loaded.")
    variant = config.get("variant") if isinstance(config.get("variant"), str) else None
    return platform_from_parts(config["os"], config["architecture"], variant), digest


def _index_platforms(path: Path, digest: str, blobs: dict[str, bytes], depth: int = 0) -> tuple[set[str], set[str]]:
    """Platforms and IDs of the OCI manifest or index `digest`, as far as the archive holds their blobs."""
    data = blobs.get(_digest_name(digest))
    if data is None or depth > 2 or "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        return set(), set()
    document = _json(path, f"image manifest ({digest[:80]})", data)
    if not isinstance(document, dict):
        return set(), set()
    config = document.get("config")
    if isinstance(config, dict) and _digest_name(config.get("digest")) in blobs:
        platform, config_id = _config_platform(path, _digest_name(config["digest"]), blobs)
        return {platform}, {digest, config_id}
    platforms: set[str] = set()
    ids: set[str] = {digest}
    for entry in document.get("manifests") or []:
        if isinstance(entry, dict):
            found, found_ids = _index_platforms(path, entry.get("digest"), blobs, depth + 1)
            platforms |= found
            ids |= found_ids
    return platforms, ids


def _strings(path: Path, what: str, values: object) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BundleError(f"{path} has a malformed {what}; nothing was loaded.")
    return tuple(values)


def _images(path: Path, metadata: dict[str, bytes], blobs: dict[str, bytes]) -> tuple[ArchivedImage, ...]:
    """Every image and name `docker load` would create, from each of docker's metadata files."""
    if "manifest.json" not in metadata and "index.json" not in metadata:
        raise BundleError(f"{path} holds neither manifest.json nor index.json, so it is not an image archive polyarch "
                          "can check (a `docker save` from Docker 1.10 or newer has them); nothing was loaded.",
                          tip=f"Make the bundle with `{prog()} package-airtight`, or with `docker save` of a current Docker.")
    images: list[ArchivedImage] = []
    entries = _json(path, "manifest.json", metadata.get("manifest.json", b"[]"))
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise BundleError(f"{path} has a malformed manifest.json; nothing was loaded.")
    for entry in entries:
        platform, config_id = _config_platform(path, _blob_path(path, entry.get("Config")), blobs)
        images.append(ArchivedImage(_strings(path, "manifest.json (RepoTags)", entry.get("RepoTags")), (platform,), (config_id,)))
    index = _json(path, "index.json", metadata.get("index.json", b"{}"))
    if not isinstance(index, dict) or not isinstance(index.get("manifests", []), list):
        raise BundleError(f"{path} has a malformed index.json; nothing was loaded.")
    for entry in index.get("manifests", []):
        if not isinstance(entry, dict):
            raise BundleError(f"{path} has a malformed index.json; nothing was loaded.")
        names = _index_names(path, entry.get("annotations") or {})
        platforms, ids = _index_platforms(path, entry.get("digest"), blobs)
        images.append(ArchivedImage(names, tuple(sorted(platforms)), tuple(sorted(ids))))
    repositories = _json(path, "repositories", metadata.get("repositories", b"{}"))
    if not isinstance(repositories, dict) or not all(isinstance(t, dict) for t in repositories.values()):
        raise BundleError(f"{path} has a malformed repositories file; nothing was loaded.")
    for repository, tags in repositories.items():
        images.append(ArchivedImage(tuple(f"{repository}:{tag}" for tag in tags), (), ()))
    return tuple(images)


def _index_names(path: Path, annotations: object) -> tuple[str, ...]:
    """The names an index.json entry gives: its image-name annotation, and a ref name that is more than that name's tag."""
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        raise BundleError(f"{path} has a malformed index.json (annotations); nothing was loaded.")
    names = [annotations[_NAME_KEY]] if _NAME_KEY in annotations else []
    ref = annotations.get(_REF_KEY)
    if ref and not (names and split_ref(names[0]).tag == ref):
        names.append(ref)
    return tuple(names)


def check_contents(path: Path, contents: BundleContents, allowed: tuple[str, ...], platform: str) -> None:
    """Refuse a bundle that would name an image the stack does not run, lacks one it runs, or holds another platform.

    `allowed` are the stack's airtight names: the bundle must name each, and
    nothing else (a foreign name would be repointed by the load). Each must
    be an image for `platform`.
    """
    wanted = {comparable(ref): ref for ref in allowed}
    foreign = sorted({name for name in contents.names() if comparable(name) not in wanted})
    if foreign:
        raise BundleError(
            f"{path.name} would name {len(foreign)} image(s) the stack does not run: {', '.join(n[:100] for n in foreign[:10])}; "
            "loading it would repoint those local names, so nothing was loaded.",
            tip=f"A bundle may only hold the stack's own images; make it with `{prog()} package-airtight` for this project.")
    held = {comparable(name) for name in contents.names()}
    missing = [ref for key, ref in wanted.items() if key not in held]
    if missing:
        raise BundleError(f"{path.name} lacks {len(missing)} image(s) the airtight mode runs: {', '.join(missing)}; nothing was loaded.",
                          tip=f"Package the bundle again with `{prog()} package-airtight` from the same version of the project.")
    for key, ref in wanted.items():
        known = [image.platforms for image in contents.images if image.platforms and key in map(comparable, image.names)]
        if not known:
            raise BundleError(f"{path.name} names {ref} but holds no image config for it, so its platform cannot be checked; nothing was loaded.")
        other = sorted({p for platforms in known if platform not in platforms for p in platforms})
        if other:
            raise BundleError(f"{path.name} holds {ref} for {', '.join(other)}, not for {platform}; nothing was loaded.",
                              tip=f"Package the bundle for this host (`{prog()} package-airtight --platform {platform}`), "
                                  f"or pass --platform {other[0]} to load it anyway and run it under emulation.")
