"""Writing bundles (polyarch.execution.handlers.bundle): from registry blobs, on a full disk, interrupted."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from test_unit_adapters_registry import MirrorsOnly, image_parts, serve_registry, stop
from unit_helpers import fresh_console  # noqa: F401  (fixtures)


def test_a_bundle_is_assembled_from_registry_blobs_and_checksummed_while_written(tmp_path):
    import hashlib
    import tarfile

    from polyarch.execution.handlers.bundle import fetch_bundle
    from polyarch.planning.steps.bundle import FetchBundle

    blobs, manifest = image_parts()
    server, _ = serve_registry(blobs, manifest)
    ref = f"127.0.0.1:{server.server_port}/ns/app:1"
    item = FetchBundle(((("app:latest", "app:v1"), ref),), tmp_path / "b.tar.gz", tmp_path / "b.tar.gz.sha256", "s", "1",
                       "linux/amd64", 6)
    try:
        stats = fetch_bundle(MirrorsOnly(), item)
    finally:
        stop(server)
    data = item.bundle.read_bytes()
    assert stats.sha256 == hashlib.sha256(data).hexdigest() and item.checksum.read_text().startswith(stats.sha256)
    with tarfile.open(item.bundle) as archive:
        names = archive.getnames()
        index = json.load(archive.extractfile("index.json"))
        docker_manifest = json.load(archive.extractfile("manifest.json"))
    assert names[0] == "polyarch-bundle.json" and names[-1] == "manifest.json"
    assert {f"blobs/sha256/{d.split(':')[1]}" for d in blobs} <= set(names)
    assert [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]] == [
        "docker.io/library/app:latest", "docker.io/library/app:v1"]
    assert docker_manifest[0]["RepoTags"] == ["app:latest", "app:v1"]
    # The random layer is stored, not compressed again: the bundle is barely bigger than the blobs.
    assert len(data) < sum(map(len, blobs.values())) * 1.01 + 4096


def test_a_registry_that_sends_other_bytes_leaves_no_bundle(tmp_path):
    import os

    from polyarch.core.errors import BundleError
    from polyarch.execution.handlers.bundle import fetch_bundle
    from polyarch.planning.steps.bundle import FetchBundle

    blobs, manifest = image_parts()
    server, _ = serve_registry(blobs, manifest, lie=os.urandom(300_000))
    ref = f"127.0.0.1:{server.server_port}/ns/app:1"
    item = FetchBundle(((("app:latest",), ref),), tmp_path / "b.tar.gz", tmp_path / "b.tar.gz.sha256", "s", "1", "linux/amd64", 6)
    try:
        with pytest.raises(BundleError, match="do not match that digest"):
            fetch_bundle(MirrorsOnly(), item)
    finally:
        stop(server)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("after", [1, 2], ids=["after-the-checksum", "after-the-bundle"])
def test_an_interruption_while_publishing_a_bundle_never_leaves_one_without_the_other(tmp_path, monkeypatch, after):
    """A signal that lands right after a rename: before the bundle's, nothing stays; after it, both stay."""
    import polyarch.adapters.bundle
    from polyarch.execution.handlers.bundle import _write_bundle
    from polyarch.planning.steps.bundle import SaveBundle

    item = SaveBundle(("x",), tmp_path / "b.tar.gz", tmp_path / "b.tar.gz.sha256", "s", "v", "linux/amd64", 1)
    real, calls = os.replace, []

    def replace_then_interrupt(source, target):
        real(source, target)
        calls.append(target)
        if len(calls) == after:
            raise KeyboardInterrupt

    monkeypatch.setattr(polyarch.adapters.bundle.os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _write_bundle(item, lambda sink: sink.write(b"data") and None)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ([] if after == 1 else ["b.tar.gz", "b.tar.gz.sha256"])


def test_a_full_disk_while_writing_a_bundle_says_to_free_space_or_pick_another_output(tmp_path, fresh_console):
    from polyarch.adapters.bundle import compress_stream
    from polyarch.core.errors import BundleError
    from polyarch.execution.handlers.bundle import _write_bundle
    from polyarch.planning.steps.bundle import SaveBundle

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this machine")
    bundle = tmp_path / "s-airtight-v-amd64.tar.gz"
    item = SaveBundle(("a:1",), bundle, bundle.with_name(bundle.name + ".sha256"), "s", "v", "linux/amd64", 1)

    def write(sink):
        with open("/dev/full", "wb", buffering=0) as full:  # a real device whose every write fails with ENOSPC
            compress_stream(io.BytesIO(b"x" * (1 << 20)), full, 1)

    with pytest.raises(BundleError) as raised:
        _write_bundle(item, write)
    assert "is full, so no bundle was written" in raised.value.message
    assert "--output" in raised.value.tip and "Copy the bundle" not in raised.value.tip
    assert list(tmp_path.iterdir()) == []
