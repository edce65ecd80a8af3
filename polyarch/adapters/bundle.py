"""Airtight bundles: the file format, writing it safely, and checking it before a load.

A bundle is one gzip file that plain `docker load` reads. It is two gzip
members back to back (gzip readers, docker's included, read them as one
stream): the first holds a tar entry `polyarch-bundle.json` with the
bundle's manifest and no end-of-archive marker; the second is `docker save`
of every image. Decompressed, the two make one tar archive whose first entry
is the manifest, so the manifest can be read without unpacking the rest.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

from polyarch import __version__
from polyarch.core.errors import BundleError
from polyarch.core.progname import prog
from polyarch.core.testpause import pause

MANIFEST_NAME = "polyarch-bundle.json"
FORMAT_VERSION = 1
_CHUNK = 1 << 20
# A real manifest is a few KB; anything claiming more is not read into memory.
MANIFEST_LIMIT = 1 << 20


@dataclass(frozen=True)
class BundleManifest:
    """What a bundle holds, readable without unpacking it."""

    stack: str
    version: str
    platform: str
    images: dict[str, str]  # tag -> image id
    polyarch_version: str
    format: int = FORMAT_VERSION
    # tag -> config digest, the image ID the classic image store gives (bundles read from a registry)
    configs: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()


def bundle_name(stack: str, version: str, arch: str) -> str:
    return f"{stack}-airtight-{version}-{arch}.tar.gz"


def tar_header(name: str, size: int, mode: int = 0o644) -> bytes:
    """The 512-byte ustar header of one regular-file entry."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def tar_padding(size: int) -> bytes:
    """The zeros that fill an entry of `size` bytes to the next 512-byte block."""
    return b"\0" * ((512 - size % 512) % 512)


def manifest_member(manifest: BundleManifest) -> bytes:
    """A tar entry holding the manifest, without the end-of-archive blocks."""
    data = manifest.to_json()
    return tar_header(MANIFEST_NAME, len(data)) + data + tar_padding(len(data))


def read_manifest(path: Path) -> BundleManifest | None:
    """The manifest at the head of a bundle; None for a gzip'd tar without one.

    Raises BundleError when the file is not a gzip'd tar at all.
    """
    try:
        with gzip.open(path, "rb") as stream:
            header = stream.read(512)
            if len(header) < 512:
                raise BundleError(f"{path} is too short to be an image bundle.")
            try:
                info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
            except tarfile.HeaderError:
                raise BundleError(f"{path} is gzip data but not an image archive (no tar header inside).") from None
            if info.name != MANIFEST_NAME:
                return None
            if info.size > MANIFEST_LIMIT:
                raise BundleError(f"{path} claims a {info.size}-byte {MANIFEST_NAME}; a real one is a few KB, so the bundle is not trusted.")
            data = stream.read(info.size)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(
            f"{path} is not a gzip'd image bundle ({exc}).",
            tip=f"Give the .tar.gz that `{prog()} package-airtight` wrote; download it again if it came over a network.",
        ) from None
    return manifest_from_json(path, data)


def manifest_from_json(path: Path, data: bytes) -> BundleManifest:
    """The manifest in `data`; a BundleError for anything malformed or written for a newer format.

    Fields this version does not know are ignored while the format's major
    version is the same (a newer polyarch may add some); a newer major
    version is refused, naming what reads it.
    """
    try:
        fields = json.loads(data)
    except (ValueError, RecursionError) as exc:
        reason = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise BundleError(f"{path} has an unreadable {MANIFEST_NAME} ({reason}).") from None
    if not isinstance(fields, dict):
        raise BundleError(f"{path} has a malformed {MANIFEST_NAME} (not a JSON object).")
    fmt = fields.get("format", FORMAT_VERSION)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise BundleError(f"{path} has a malformed {MANIFEST_NAME} (format {str(fmt)[:20]!r} is not a version number).")
    if fmt > FORMAT_VERSION:
        writer = fields.get("polyarch_version")
        raise BundleError(
            f"{path} is in bundle format {fmt}"
            + (f", written by polyarch {str(writer)[:40]}" if writer else "")
            + f"; this polyarch ({__version__}) reads bundle format {FORMAT_VERSION} only. Nothing was loaded.",
            tip=f"Install a polyarch that reads bundle format {fmt}"
                + (f" (polyarch {str(writer)[:40]} or newer)" if writer else "") + " on this host.")
    known = {f.name for f in dataclasses.fields(BundleManifest)}
    try:
        manifest = BundleManifest(**{k: v for k, v in fields.items() if k in known})
    except TypeError:
        missing = sorted(f.name for f in dataclasses.fields(BundleManifest)
                         if f.name not in fields and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        raise BundleError(f"{path} has a malformed {MANIFEST_NAME} (it lacks {', '.join(missing) or 'a field'}).") from None
    images = manifest.images
    if not (all(isinstance(m, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in m.items())
                for m in (images, manifest.configs))
            and all(isinstance(getattr(manifest, f), str) for f in ("stack", "version", "platform", "polyarch_version"))):
        raise BundleError(f"{path} has a malformed {MANIFEST_NAME} (images must map names to image IDs).")
    return manifest


def sha256_of(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return digest.hexdigest()


def checksum_line(digest: str, bundle: Path) -> str:
    """One line in `sha256sum` format."""
    return f"{digest}  {bundle.name}\n"


def expected_checksum(sha_file: Path, bundle: Path) -> str:
    """The digest a `.sha256` file gives for `bundle` (only its first 64 KiB are read: a real one is one line)."""
    with sha_file.open("rb") as handle:
        text = handle.read(1 << 16).decode("utf-8", errors="replace")
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) == 2 and parts[1].lstrip("*") == bundle.name and len(parts[0]) == 64:
            return parts[0].lower()
        if len(parts) == 1 and len(parts[0]) == 64:
            return parts[0].lower()
    raise BundleError(f"{sha_file} does not hold a sha256 for {bundle.name}.")


def check_gzip_complete(path: Path, on_bytes: Callable[[int], None] | None = None) -> None:
    """Read the whole gzip stream; a truncated or damaged file raises BundleError."""
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK * 4):
                if on_bytes:
                    on_bytes(len(chunk))
    except EOFError:
        raise BundleError(f"{path} ends early: the file is truncated.",
                          tip="Copy or download the bundle again, completely.") from None
    except (OSError, zlib.error) as exc:
        raise BundleError(f"{path} is damaged ({exc}).", tip="Copy or download the bundle again.") from None


def compressor(level: int) -> list[str] | None:
    """The parallel gzip command to use, or None to compress in Python."""
    pigz = shutil.which("pigz")
    if pigz:
        return [pigz, f"-{level}", "-p", str(os.cpu_count() or 1), "-c"]
    return None


def compress_stream(source: BinaryIO, sink: BinaryIO, level: int, on_raw: Callable[[int], None] | None = None) -> None:
    """gzip `source` into `sink` with all cores (pigz) or, without pigz, in Python.

    `on_raw` is told how many uncompressed bytes went through, chunk by chunk.
    """
    command = compressor(level)
    if command is None:
        with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=level, mtime=0) as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
                if on_raw:
                    on_raw(len(chunk))
        return
    sink.flush()  # pigz writes to the file descriptor directly, after what is buffered here
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=sink, stderr=errors)
        try:
            while chunk := source.read(_CHUNK):
                process.stdin.write(chunk)
                if on_raw:
                    on_raw(len(chunk))
        except BrokenPipeError:
            pass
        except BaseException:
            process.kill()
            raise
        finally:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
            code = process.wait()
        if code != 0:
            errors.seek(0)
            said = errors.read().decode(errors="replace").strip()
            if code == errno.ENOSPC or "No space left" in said:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise BundleError(f"pigz failed (exit {code}): {said}")


@dataclass
class PendingFiles:
    """Temporary files that become the bundle and its checksum only when complete.

    The temporary names are unique per run, so two runs writing the same
    bundle never write into one file.
    """

    bundle: Path
    checksum: Path
    run_id: str = field(default_factory=lambda: f"{os.getpid()}-{secrets.token_hex(4)}")

    @property
    def tmp_bundle(self) -> Path:
        return self.bundle.with_name(f".{self.bundle.name}.{self.run_id}.partial")

    @property
    def tmp_checksum(self) -> Path:
        return self.checksum.with_name(f".{self.checksum.name}.{self.run_id}.partial")

    def discard(self) -> None:
        for path in (self.tmp_bundle, self.tmp_checksum):
            path.unlink(missing_ok=True)

    def publish(self) -> None:
        """Rename both into place: checksum first, so a bundle never appears without it."""
        try:
            os.replace(self.tmp_checksum, self.checksum)
            pause("publish")
            os.replace(self.tmp_bundle, self.bundle)
        except BaseException:
            # A signal can land just after either rename: only a checksum
            # renamed without its bundle goes; a renamed bundle keeps its checksum.
            if self.tmp_bundle.exists() and not self.tmp_checksum.exists():
                self.checksum.unlink(missing_ok=True)
            raise


def expand_user_path(text: str, env: dict[str, str] | None = None) -> Path:
    """Expand a leading `~/` to the invoking user's home, also under sudo."""
    env = dict(os.environ) if env is None else env
    if text.startswith("~/") or text == "~":
        sudo_user = env.get("SUDO_USER")
        if sudo_user and os.geteuid() == 0:
            import pwd

            try:
                home = pwd.getpwnam(sudo_user).pw_dir
                return Path(home) / text[2:]
            except KeyError:
                pass
        return Path(os.path.expanduser(text))
    return Path(text)
