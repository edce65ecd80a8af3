"""Checking a bundle before loading it (polyarch.adapters.bundlescan): only the stack's images, bounded reads,
clear bundle errors. No engine: prod-airtight runs with --dry-run, which reads and checks the bundle as a real run does."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import platform as host
import tarfile
from pathlib import Path

import pytest
from unit_helpers import (  # noqa: F401  (fixtures)
    REPO, compose_cli, copy_repo_stack, fresh_console, load_repo_stack, run_invoke
)

from polyarch.adapters.bundle import BundleManifest, FORMAT_VERSION, MANIFEST_NAME, manifest_member, read_manifest
from polyarch.adapters.bundlescan import check_contents, scan_bundle
from polyarch.core.errors import BundleError


ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[host.machine()]
OTHER = "arm64" if ARCH == "amd64" else "amd64"


@functools.lru_cache(maxsize=1)
def stack_refs() -> tuple[str, ...]:
    from polyarch.planning.airtight_plans import airtight_refs

    return airtight_refs(load_repo_stack().role("airtight"))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_archive(images: dict[str, str], extra: dict[str, bytes] | None = None, oci: bool = True) -> bytes:
    """A tar shaped like `docker save`: per name, a config blob for its arch, a layer; manifest.json and index.json."""
    files: dict[str, bytes] = {}
    entries, index = [], []
    for name, arch in images.items():
        layer = b"layer of " + name.encode()
        config = json.dumps({"os": "linux", "architecture": arch, "rootfs": {"diff_ids": []}, "note": name}).encode()
        manifest = json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + sha(config), "size": len(config)},
                               "layers": [{"digest": "sha256:" + sha(layer), "size": len(layer)}]}).encode()
        for blob in (layer, config, manifest):
            files[f"blobs/sha256/{sha(blob)}"] = blob
        entries.append({"Config": f"blobs/sha256/{sha(config)}", "RepoTags": [name], "Layers": [f"blobs/sha256/{sha(layer)}"]})
        full = name if "/" in name else f"docker.io/library/{name}"
        index.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sha(manifest),
                      "size": len(manifest), "annotations": {"io.containerd.image.name": full,
                                                             "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]}})
    files["manifest.json"] = json.dumps(entries).encode()
    if oci:
        files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": index}).encode()
    files.update(extra or {})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def polyarch_bundle(path: Path, payload: bytes, arch: str = ARCH, manifest: bytes | None = None) -> Path:
    """A bundle as package-airtight writes it: the manifest member, then the archive, gzip'd."""
    if manifest is None:
        head = manifest_member(BundleManifest("polyarch", "1.0", f"linux/{arch}", {r: "sha256:" + "1" * 64 for r in stack_refs()}, "0.1.0"))
    else:
        head = tarfile.TarInfo(MANIFEST_NAME)
        head.size = len(manifest)
        head = head.tobuf(format=tarfile.USTAR_FORMAT) + manifest + b"\0" * ((512 - len(manifest) % 512) % 512)
    path.write_bytes(gzip.compress(head, compresslevel=1) + gzip.compress(payload, compresslevel=1))
    return path


def own_images(arch: str = ARCH) -> dict[str, str]:
    return {ref: arch for ref in stack_refs()}


@pytest.fixture
def stack_copy(tmp_path, compose_cli):
    path = copy_repo_stack(tmp_path / "stack")
    (path.parent / ".env").write_text((REPO / ".env.example").read_text())
    return path


def dry_run(stack_copy, bundle: Path, *extra: str) -> int:
    return run_invoke("prod-airtight", "--dry-run", "--no-start", "--bundle", str(bundle), *extra, "--stack", str(stack_copy))


def test_the_stacks_own_bundle_passes_the_checks(tmp_path, stack_copy, fresh_console, capsys):
    bundle = polyarch_bundle(tmp_path / "b.tar.gz", save_archive(own_images()))
    assert dry_run(stack_copy, bundle) == 0, capsys.readouterr().err
    contents = scan_bundle(bundle)
    assert contents.sha256 == sha(bundle.read_bytes())
    assert {"busybox:1.36.1", "docker.io/library/busybox:1.36.1"} <= contents.names()


@pytest.mark.parametrize("where", ["RepoTags", "index.json", "repositories"])
@pytest.mark.parametrize("with_manifest", [True, False], ids=["polyarch-bundle", "plain-docker-save"])
def test_a_foreign_name_anywhere_in_the_archive_is_refused_before_loading(tmp_path, stack_copy, fresh_console, capsys, where, with_manifest):
    images = own_images()
    if where == "RepoTags":
        payload = save_archive(images)
        # The attack: one more name on an entry of docker's own manifest.json.
        with tarfile.open(fileobj=io.BytesIO(payload)) as archive:
            entries = json.loads(archive.extractfile("manifest.json").read())
        entries[0]["RepoTags"].append("victim:1")
        payload = save_archive(images, {"manifest.json": json.dumps(entries).encode()})
    elif where == "index.json":
        payload = save_archive(dict(images, **{"victim:1": ARCH}), {"manifest.json": b"[]"})
        payload = save_archive(images, {"index.json": _index_of(payload)} | _blobs_of(payload))
    else:
        payload = save_archive(images, {"repositories": json.dumps({"victim": {"1": "0" * 64}}).encode()})
    bundle = tmp_path / "b.tar.gz"
    if with_manifest:
        polyarch_bundle(bundle, payload)
    else:
        bundle.write_bytes(gzip.compress(payload, compresslevel=1))
    (tmp_path / "b.tar.gz.sha256").write_text(f"{sha(bundle.read_bytes())}  b.tar.gz\n")
    assert dry_run(stack_copy, bundle) == 1
    err = capsys.readouterr().err
    assert "victim:1" in err and "the stack does not run" in err and "nothing was loaded" in err
    assert "Traceback" not in err


def _index_of(payload: bytes) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(payload)) as archive:
        return archive.extractfile("index.json").read()


def _blobs_of(payload: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(payload)) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.name.startswith("blobs/")}


def test_a_plain_docker_save_is_checked_for_completeness(tmp_path, stack_copy, fresh_console, capsys):
    images = own_images()
    images.pop("busybox:1.36.1")
    bundle = tmp_path / "plain.tar.gz"
    bundle.write_bytes(gzip.compress(save_archive(images), compresslevel=1))
    assert dry_run(stack_copy, bundle) == 1
    err = capsys.readouterr().err
    assert "lacks 1 image(s) the airtight mode runs: busybox:1.36.1" in err


def test_a_plain_docker_save_of_another_platform_is_refused_before_loading(tmp_path, stack_copy, fresh_console, capsys):
    bundle = tmp_path / "plain.tar.gz"
    bundle.write_bytes(gzip.compress(save_archive(own_images(OTHER)), compresslevel=1))
    assert dry_run(stack_copy, bundle) == 1
    err = capsys.readouterr().err
    assert f"for linux/{OTHER}, not for linux/{ARCH}" in err and f"--platform linux/{OTHER}" in err
    # ...and --platform loads it anyway (emulated), as for polyarch's own bundles.
    assert dry_run(stack_copy, bundle, "--platform", f"linux/{OTHER}") == 0, capsys.readouterr().err


def test_a_polyarch_bundle_whose_images_are_of_another_platform_than_it_says_is_refused(tmp_path):
    bundle = polyarch_bundle(tmp_path / "b.tar.gz", save_archive(own_images(OTHER)))
    with pytest.raises(BundleError, match=f"for linux/{OTHER}, not for linux/{ARCH}"):
        check_contents(bundle, scan_bundle(bundle), stack_refs(), f"linux/{ARCH}")


def test_a_config_the_archive_does_not_hold_is_refused(tmp_path):
    payload = save_archive({"busybox:1.36.1": ARCH}, {"manifest.json": json.dumps(
        [{"Config": "blobs/sha256/" + "0" * 64, "RepoTags": ["busybox:1.36.1"], "Layers": []}]).encode()}, oci=False)
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(gzip.compress(payload))
    with pytest.raises(BundleError, match="which it does not hold"):
        scan_bundle(bundle)


def test_a_symlinked_manifest_json_is_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        link = tarfile.TarInfo("manifest.json")
        link.type = tarfile.SYMTYPE
        link.linkname = "blobs/evil.json"
        archive.addfile(link)
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(gzip.compress(buffer.getvalue()))
    with pytest.raises(BundleError, match="manifest.json twice or as a link"):
        scan_bundle(bundle)


def test_a_deeply_nested_manifest_is_a_bundle_error_not_a_traceback(tmp_path, stack_copy, fresh_console, capsys):
    bundle = polyarch_bundle(tmp_path / "b.tar.gz", save_archive(own_images()), manifest=b"[" * (1 << 20))
    assert dry_run(stack_copy, bundle) == 1
    err = capsys.readouterr().err
    assert "unreadable polyarch-bundle.json (it nests too deeply)" in err and "Traceback" not in err
    with pytest.raises(BundleError, match="nests too deeply"):
        read_manifest(bundle)


def test_a_deeply_nested_docker_manifest_is_a_bundle_error(tmp_path):
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(gzip.compress(save_archive({}, {"manifest.json": b"[" * 100000})))
    with pytest.raises(BundleError, match="unreadable manifest.json"):
        scan_bundle(bundle)


def gzip_bomb(size: int) -> bytes:
    """`size` bytes of zeros as 1 MiB gzip members back to back (a reader goes on through every member)."""
    return gzip.compress(b"\0" * (1 << 20), compresslevel=9) * (size >> 20)


def test_a_gzip_bomb_appended_to_a_bundle_is_refused_without_reading_it(tmp_path, stack_copy, fresh_console, capsys):
    bundle = polyarch_bundle(tmp_path / "b.tar.gz", save_archive(own_images()))
    with bundle.open("ab") as sink:
        sink.write(gzip_bomb(1 << 30))  # 1 GiB of zeros in about 1 MB
    assert dry_run(stack_copy, bundle) == 1
    assert "has data after the end of its image archive" in capsys.readouterr().err
    read = []
    with pytest.raises(BundleError, match="data after the end"):
        scan_bundle(bundle, on_bytes=read.append)
    assert sum(read) < bundle.stat().st_size // 2, "the bomb was read (almost) to its end"


def test_garbage_after_the_archive_is_refused(tmp_path):
    bundle = polyarch_bundle(tmp_path / "b.tar.gz", save_archive({}))
    with bundle.open("ab") as sink:
        sink.write(gzip.compress(b"PK not zeros"))
    with pytest.raises(BundleError, match="data after the end"):
        scan_bundle(bundle)


def test_a_truncated_archive_is_refused(tmp_path):
    bundle = polyarch_bundle(tmp_path / "b.tar.gz", save_archive(own_images()))
    data = bundle.read_bytes()
    bundle.write_bytes(data[: len(data) - 40])
    with pytest.raises(BundleError, match="ends early: the file is truncated"):
        scan_bundle(bundle)


def test_an_entry_leading_outside_the_archive_is_refused(tmp_path):
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(gzip.compress(save_archive({}, {"../../etc/x": b"{}"})))
    with pytest.raises(BundleError, match="an entry outside the archive"):
        scan_bundle(bundle)


def manifest_json(**changes) -> bytes:
    fields = {"format": FORMAT_VERSION, "stack": "polyarch", "version": "1.0", "platform": f"linux/{ARCH}",
              "images": {r: "sha256:" + "1" * 64 for r in stack_refs()}, "polyarch_version": "0.1.0", "configs": {}}
    fields.update(changes)
    return json.dumps(fields).encode()


def test_unknown_fields_of_the_same_format_are_ignored(tmp_path, stack_copy, fresh_console, capsys):
    bundle = polyarch_bundle(tmp_path / "b.tar.gz", save_archive(own_images()),
                             manifest=manifest_json(signature={"by": "a newer polyarch"}, created="2031-01-01"))
    assert read_manifest(bundle).stack == "polyarch"
    assert dry_run(stack_copy, bundle) == 0, capsys.readouterr().err


def test_a_newer_format_is_refused_naming_what_reads_it(tmp_path, stack_copy, fresh_console, capsys):
    bundle = polyarch_bundle(tmp_path / "b.tar.gz", save_archive(own_images()),
                             manifest=manifest_json(format=FORMAT_VERSION + 1, polyarch_version="3.0.0", images=[1, 2]))
    assert dry_run(stack_copy, bundle) == 1
    err = capsys.readouterr().err
    assert f"bundle format {FORMAT_VERSION + 1}, written by polyarch 3.0.0" in err
    assert f"reads bundle format {FORMAT_VERSION} only" in err and "polyarch 3.0.0 or newer" in err
    assert "unexpected keyword" not in err and "Traceback" not in err


def test_a_plain_bundle_promises_the_image_ids_read_from_it(tmp_path, stack_copy, fresh_console, capsys):
    """The check after loading then holds a plain bundle to the images the checks before loading saw."""
    bundle = tmp_path / "plain.tar.gz"
    bundle.write_bytes(gzip.compress(save_archive(own_images()), compresslevel=1))
    assert run_invoke("prod-airtight", "--dry-run", "--json", "--no-start", "--bundle", str(bundle), "--stack", str(stack_copy)) == 0
    plan = json.loads(capsys.readouterr().out)
    check = next(step for step in plan["plan"]["steps"] if step.get("image_ids"))
    config = json.dumps({"os": "linux", "architecture": ARCH, "rootfs": {"diff_ids": []}, "note": "busybox:1.36.1"}).encode()
    assert ["busybox:1.36.1", "sha256:" + sha(config)] in check["image_ids"]
