"""Bundle format, checksums, path expansion, fingerprints and the values file, without an engine."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from polyarch.adapters.bundle import (
    BundleManifest,
    PendingFiles,
    bundle_name,
    check_gzip_complete,
    checksum_line,
    compress_stream,
    expand_user_path,
    expected_checksum,
    manifest_member,
    read_manifest,
    sha256_of,
)
from polyarch.core.errors import BundleError, UsageError
from polyarch.planning.fingerprint import context_files, fingerprint
from polyarch.model.values import read_registry, write_tag

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
])
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


def test_fingerprint_follows_inputs_and_ignores_noise(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / ".dockerignore").write_text("notes.txt\n")
    base = fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/amd64",), ())
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"x")
    assert fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/amd64",), ()) == base
    assert [p.name for p in context_files(tmp_path)] == [".dockerignore", "Dockerfile", "app.py"]
    assert fingerprint(tmp_path, tmp_path / "Dockerfile", "dev", ("linux/amd64",), ()) != base
    assert fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/arm64",), ()) != base
    assert fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/amd64",), (("A", "1"),)) != base
    (tmp_path / "app.py").write_text("print(2)\n")
    assert fingerprint(tmp_path, tmp_path / "Dockerfile", "prod", ("linux/amd64",), ()) != base


VALUES = """\
# chart values
image:
  registry: "reg.example:5000/team"  # where images live
  tag: old   # replaced by deploy-build
other: [1, 2]
"""


def test_values_file_tag_is_written_keeping_comments(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(VALUES)
    values.chmod(0o640)
    assert read_registry(values) == "reg.example:5000/team"
    write_tag(values, "abc1234")
    text = values.read_text()
    assert "tag: abc1234" in text
    assert "# chart values" in text and "# where images live" in text and "# replaced by deploy-build" in text
    assert '"reg.example:5000/team"' in text
    assert oct(values.stat().st_mode & 0o777) == oct(0o640)
    assert [p.name for p in tmp_path.iterdir()] == ["values.yaml"]


@pytest.mark.parametrize("text, expected", [("image:\n  registry:\n", ""), ("image:\n  registry: null\n", ""), ("other: 1\n", "")])
def test_empty_registries_read_as_empty(tmp_path, text, expected):
    values = tmp_path / "values.yaml"
    values.write_text(text)
    assert read_registry(values) == expected


def test_values_file_problems_are_clear(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        read_registry(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("image: [unclosed\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        read_registry(bad)
    flat = tmp_path / "flat.yaml"
    flat.write_text("replicas: 2\n")
    with pytest.raises(UsageError, match="no `image:` mapping"):
        write_tag(flat, "x")
    assert flat.read_text() == "replicas: 2\n"
