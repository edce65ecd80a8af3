"""The bundle format (polyarch.adapters.bundle): members, manifest, checksum files, bounded reads, paired writes."""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import platform as host
import shutil
import tarfile
from pathlib import Path

import pytest
from test_unit_adapters_bundlescan import polyarch_bundle, save_archive, sha

from polyarch.adapters.bundle import (
    BundleManifest, FORMAT_VERSION, MANIFEST_NAME, PendingFiles, bundle_name, check_gzip_complete, checksum_line,
    compress_stream, expand_user_path, expected_checksum, manifest_member, read_manifest, sha256_of
)
from polyarch.core.errors import BundleError


MANIFEST = BundleManifest("demo", "1.0", "linux/arm64", {"demo-api:latest": "sha256:" + "1" * 64}, "0.1.0")


def tar_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_bundle(path: Path, payload: bytes, with_manifest: bool = True, level: int = 1) -> Path:
    with path.open("wb") as sink:
        if with_manifest:
            sink.write(gzip.compress(manifest_member(MANIFEST), compresslevel=level))
        compress_stream(io.BytesIO(payload), sink, level)
    return path


def test_bundle_name():
    assert bundle_name("demo", "1.0", "arm64") == "demo-airtight-1.0-arm64.tar.gz"


@pytest.mark.parametrize("pigz", [True, False], ids=["pigz", "python-gzip"])
def test_two_members_read_as_one_tar_with_the_manifest_first(tmp_path, monkeypatch, pigz):
    if not pigz:
        monkeypatch.setattr("polyarch.adapters.bundle.compressor", lambda level: None)
    payload = tar_bytes({"index.json": b"{}", "blobs/sha256/x": b"layer" * 1000})
    bundle = write_bundle(tmp_path / "b.tar.gz", payload)
    with tarfile.open(bundle, "r:gz") as archive:
        names = archive.getnames()
    assert names[0] == "polyarch-bundle.json" and "index.json" in names and "blobs/sha256/x" in names
    assert read_manifest(bundle) == MANIFEST
    check_gzip_complete(bundle)


def test_a_gzipped_tar_without_manifest_reads_as_none(tmp_path):
    bundle = write_bundle(tmp_path / "old.tar.gz", tar_bytes({"manifest.json": b"[]"}), with_manifest=False)
    assert read_manifest(bundle) is None


@pytest.mark.parametrize("content, message", [
    (os.urandom(2048), "is not a gzip'd image bundle"),
    (gzip.compress(b"plain text, no tar header in here " * 40), "not an image archive"),
    (gzip.compress(b"short"), "too short"),
    (b"", "too short to be an image bundle"),
], ids=["random-bytes", "gzipped-text", "gzipped-short", "empty"])
def test_files_that_are_not_bundles_are_refused(tmp_path, content, message):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(content)
    with pytest.raises(BundleError, match=message):
        read_manifest(path)


def test_a_truncated_stream_is_caught(tmp_path):
    bundle = write_bundle(tmp_path / "b.tar.gz", os.urandom(300_000))
    data = bundle.read_bytes()
    bundle.write_bytes(data[: len(data) // 2])
    assert read_manifest(bundle) == MANIFEST  # the head is intact
    with pytest.raises(BundleError, match="truncated"):
        check_gzip_complete(bundle)


def test_checksum_line_matches_sha256sum_format_and_reads_back(tmp_path):
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(b"abc")
    digest = sha256_of(bundle)
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    line = checksum_line(digest, bundle)
    assert line == f"{digest}  b.tar.gz\n"
    sha = tmp_path / "b.tar.gz.sha256"
    sha.write_text(line)
    assert expected_checksum(sha, bundle) == digest
    sha.write_text(f"{digest} *b.tar.gz\n")
    assert expected_checksum(sha, bundle) == digest
    sha.write_text("nonsense\n")
    with pytest.raises(BundleError):
        expected_checksum(sha, bundle)


def test_pending_files_publish_both_or_discard_both(tmp_path):
    pending = PendingFiles(tmp_path / "b.tar.gz", tmp_path / "b.tar.gz.sha256")
    pending.tmp_bundle.write_bytes(b"x")
    pending.tmp_checksum.write_text("y")
    pending.discard()
    assert list(tmp_path.iterdir()) == []
    pending.tmp_bundle.write_bytes(b"x")
    pending.tmp_checksum.write_text("y")
    pending.publish()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.gz", "b.tar.gz.sha256"]


def test_tilde_means_the_invoking_users_home_under_sudo(monkeypatch):
    import pwd

    other = next((p for p in pwd.getpwall() if p.pw_dir not in ("/", "/root") and p.pw_name != "root"), None)
    if other is None or os.geteuid() != 0:
        pytest.skip("needs root and a second user with a home folder")
    assert expand_user_path("~/b.tar.gz", {"SUDO_USER": other.pw_name}) == Path(other.pw_dir) / "b.tar.gz"
    assert expand_user_path("~/b.tar.gz", {}) == Path(os.path.expanduser("~/b.tar.gz"))
    assert expand_user_path("/abs/b.tar.gz", {"SUDO_USER": other.pw_name}) == Path("/abs/b.tar.gz")


ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[host.machine()]


@pytest.mark.parametrize("manifest", [b"[]", b'"text"', b'{"format": "one"}', b'{"format": 1, "stack": "x"}',
                                      b'{"format": 1, "stack": 1, "version": "1", "platform": "linux/amd64", "images": {}, "polyarch_version": "1"}'])
def test_malformed_manifests_are_bundle_errors(tmp_path, manifest):
    bundle = polyarch_bundle(tmp_path / "b.tar.gz", save_archive({}), manifest=manifest)
    with pytest.raises(BundleError, match="malformed polyarch-bundle.json"):
        read_manifest(bundle)


def test_the_writer_stamps_the_format_version():
    written = json.loads(BundleManifest("s", "1", "linux/amd64", {}, "0.1.0").to_json())
    assert written["format"] == FORMAT_VERSION == 1


def test_a_huge_checksum_file_is_not_read_into_memory(tmp_path):
    from polyarch.adapters.bundle import expected_checksum

    bundle = tmp_path / "b.tar.gz"
    sha_file = tmp_path / "b.tar.gz.sha256"
    with sha_file.open("wb") as sink:
        sink.truncate(1 << 31)  # 2 GiB of zeros, sparse: reading it all would take seconds and gigabytes of memory
    with pytest.raises(BundleError, match="does not hold a sha256"):
        expected_checksum(sha_file, bundle)


def test_two_bundle_writers_never_share_a_temporary_file(tmp_path):
    from polyarch.adapters.bundle import PendingFiles

    a = PendingFiles(tmp_path / "b.tar.gz", tmp_path / "b.tar.gz.sha256")
    b = PendingFiles(tmp_path / "b.tar.gz", tmp_path / "b.tar.gz.sha256")
    assert a.tmp_bundle != b.tmp_bundle and a.tmp_checksum != b.tmp_checksum
    assert a.tmp_bundle.name.startswith(".b.tar.gz.") and a.tmp_bundle.name.endswith(".partial")


def test_a_manifest_claiming_a_huge_size_is_not_read(tmp_path):
    import gzip
    import tarfile

    from polyarch.adapters.bundle import MANIFEST_NAME, read_manifest
    from polyarch.core.errors import BundleError

    info = tarfile.TarInfo(MANIFEST_NAME)
    info.size = 3 * 1024 ** 3
    bundle = tmp_path / "bomb.tar.gz"
    with gzip.open(bundle, "wb") as sink:
        sink.write(info.tobuf(format=tarfile.GNU_FORMAT) + b"{}")
    with pytest.raises(BundleError, match="not trusted"):
        read_manifest(bundle)


def test_a_manifest_whose_images_are_not_a_mapping_is_refused(tmp_path):
    import gzip
    import json

    from polyarch.adapters.bundle import BundleManifest, manifest_member, read_manifest
    from polyarch.core.errors import BundleError

    good = BundleManifest("s", "1", "linux/amd64", {"a:1": "sha256:x"}, "0.1.0")
    data = json.loads(good.to_json())
    data["images"] = 5
    bad = BundleManifest(**data)
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(gzip.compress(manifest_member(bad)))
    with pytest.raises(BundleError, match="malformed"):
        read_manifest(bundle)


def test_pigz_and_python_gzip_both_report_a_full_disk_as_enospc(monkeypatch):
    import polyarch.adapters.bundle as bundle

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine")
    commands = ([bundle.compressor(1)] if shutil.which("pigz") else []) + [None]
    for command in commands:
        monkeypatch.setattr(bundle, "compressor", lambda level, chosen=command: chosen)
        with open("/dev/full", "wb", buffering=0) as full, pytest.raises(OSError) as raised:
            bundle.compress_stream(io.BytesIO(b"x" * (1 << 20)), full, 1)
        assert raised.value.errno == errno.ENOSPC, command
