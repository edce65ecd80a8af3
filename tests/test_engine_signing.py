"""Signed releases and bundles against the real engine, the registry on 127.0.0.1:5000 and cosign.

One small image (busybox plus a file), a key pair made here with
`cosign generate-key-pair`, no transparency log and no network.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import uuid

import pytest
from conftest import REGISTRY, run_invoke

from polyarch.adapters.bundle import checksum_line, sha256_of

PROJECT = "polyarch-signtest"
PASSWORD = "correct horse battery staple"
OTHER_PASSWORD = "another password"
LOCAL_NAME = f"{PROJECT}-app:latest"

SETTINGS = """\
[project]
name = "{project}"
registry = "{namespace}"

[modes.prod]
files = ["compose.yaml"]

[signing]
key = "keys/cosign.key"
public_key = "keys/cosign.pub"
"""

COMPOSE = f"""\
services:
  app:
    build: ./app
    image: {LOCAL_NAME}
    command: ["sleep", "3600"]
"""


def cosign(args: list[str], password: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(["cosign", *args], cwd=cwd, env={**os.environ, "COSIGN_PASSWORD": password},
                          capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def namespace(registry):
    if shutil.which("cosign") is None:
        pytest.fail("cosign is not installed (scripts/provision-engine.sh installs it)")
    return f"{REGISTRY}/signtest-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def project(engine, namespace, tmp_path_factory):
    """A one-image project whose polyarch.toml names a key pair made here."""
    root = tmp_path_factory.mktemp("signing")
    (root / "app").mkdir()
    (root / "app" / "Dockerfile").write_text("FROM busybox:1.36.1\nCOPY hello.txt /hello.txt\n")
    (root / "app" / "hello.txt").write_text("signed\n")
    (root / "compose.yaml").write_text(COMPOSE)
    (root / "polyarch.toml").write_text(SETTINGS.format(project=PROJECT, namespace=namespace))
    (root / ".env").write_text("")
    (root / "keys").mkdir()
    cosign(["generate-key-pair"], PASSWORD, cwd=root / "keys")
    cosign(["generate-key-pair", "--output-key-prefix", "other"], OTHER_PASSWORD, cwd=root / "keys")
    yield root
    run_invoke(["down", "--stack", str(root)], check=False)
    run_invoke(["nuke", "--stack", str(root)], check=False)


@pytest.fixture(scope="module")
def released(project):
    """deploy-build with the key pair: built, pushed, verified and signed by digest."""
    return run_invoke(["deploy-build", "--tag", "s1", "--stack", str(project)], env={"COSIGN_PASSWORD": PASSWORD},
                      timeout=900)


def _raw_digest(ref: str) -> str:
    out = subprocess.run(["docker", "buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest.Digest}}"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return out.strip().strip('"')


def copy_to(source: str, destination: str) -> None:
    """The same manifest list under another repository, where no signature of it is stored."""
    subprocess.run(["docker", "buildx", "imagetools", "create", "-t", destination, source],
                   capture_output=True, text=True, check=True, timeout=120)


def refused_before_pull(engine, result, ref: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "ERROR" in result.stderr and "nothing was pulled or started" in result.stderr
    assert "[2/" not in result.stderr  # the first step (the signature check) was the last
    assert not engine.image.exists(ref)


def test_deploy_build_signs_the_verified_list_and_verify_accepts_it(namespace, project, released):
    ref = f"{namespace}/app:s1"
    assert "sign " in released.stderr and f"signed {namespace}/app@sha256:" in released.stderr
    result = run_invoke(["verify", ref, "--stack", str(project)])
    assert f"{ref} is signed by the key cosign.pub" in result.stderr
    assert f"{ref}@{_raw_digest(ref)}" in result.stdout


def test_verify_lists_provenance_for_each_platform(namespace, project, released):
    result = run_invoke(["verify", f"{namespace}/app:s1", "--stack", str(project)])
    rows = [line for line in result.stderr.splitlines() if "linux/" in line]
    for platform in ("linux/amd64", "linux/arm64"):
        assert any(platform in row and "provenance (mode=max)" in row for row in rows), result.stderr


def test_an_unsigned_copy_is_refused_by_verify_and_by_prod(engine, namespace, project, released):
    copy = f"{namespace}-copy/app:s1"
    copy_to(f"{namespace}/app:s1", copy)
    result = run_invoke(["verify", copy, "--stack", str(project)], check=False)
    assert result.returncode == 1
    assert "is not signed with the key" in result.stderr and "no signatures found" in result.stderr
    prod = run_invoke(["prod", "--registry", f"{namespace}-copy", "--version", "s1", "--stack", str(project)], check=False)
    refused_before_pull(engine, prod, copy)


def test_an_image_signed_with_another_key_is_refused(engine, namespace, project, released):
    other = f"{namespace}-other/app:s1"
    copy_to(f"{namespace}/app:s1", other)
    repository = other.rsplit(":", 1)[0]
    cosign(["sign", "--key", "other.key", "--tlog-upload=false", "--allow-http-registry", "--yes",
            f"{repository}@{_raw_digest(other)}"], OTHER_PASSWORD, cwd=project / "keys")
    # It is signed, by the other key: verify accepts it with that key ...
    run_invoke(["verify", other, "--key", str(project / "keys" / "other.pub"), "--stack", str(project)])
    # ... and refuses it with the project's.
    result = run_invoke(["verify", other, "--stack", str(project)], check=False)
    assert result.returncode == 1 and "is not signed with the key" in result.stderr
    prod = run_invoke(["prod", "--registry", f"{namespace}-other", "--version", "s1", "--stack", str(project)], check=False)
    refused_before_pull(engine, prod, other)


def test_prod_runs_exactly_the_verified_digest(engine, namespace, project, released):
    ref = f"{namespace}/app:s1"
    result = run_invoke(["prod", "--version", "s1", "--stack", str(project)])
    assert "by the digest whose signature was verified" in result.stderr
    assert engine.image.inspect(LOCAL_NAME).id == _raw_digest(ref) or \
        f"{ref.rsplit(':', 1)[0]}@{_raw_digest(ref)}" in engine.image.inspect(LOCAL_NAME).repo_digests
    run_invoke(["down", "--stack", str(project)])


def test_a_bundle_changed_after_signing_is_refused_before_anything_is_loaded(engine, project, tmp_path):
    run_invoke(["package-airtight", "--version", "1.0.0", "--output", str(tmp_path), "--stack", str(project)],
               env={"COSIGN_PASSWORD": PASSWORD}, timeout=900)
    bundles = [p for p in tmp_path.iterdir() if p.name.endswith(".tar.gz")]
    assert len(bundles) == 1
    bundle = bundles[0]
    signature = bundle.with_name(bundle.name + ".sig")
    assert signature.is_file() and not list(tmp_path.glob(".*partial"))

    # The signed bundle loads.
    if engine.image.exists(LOCAL_NAME):
        engine.image.remove(LOCAL_NAME, force=True)
    run_invoke(["prod-airtight", "--bundle", str(bundle), "--no-start", "--stack", str(project)])
    assert engine.image.exists(LOCAL_NAME)

    # The same images recompressed (a valid bundle whose every check but the signature passes),
    # with a fresh .sha256, are refused by the signature check, the plan's first step.
    changed = tmp_path / "changed" / bundle.name
    changed.parent.mkdir()
    changed.write_bytes(gzip.compress(gzip.decompress(bundle.read_bytes()), compresslevel=1, mtime=0))
    assert changed.read_bytes() != bundle.read_bytes()
    shutil.copy(signature, changed.with_name(signature.name))
    changed.with_name(changed.name + ".sha256").write_text(checksum_line(sha256_of(changed), changed))
    engine.image.remove(LOCAL_NAME, force=True)
    result = run_invoke(["prod-airtight", "--bundle", str(changed), "--no-start", "--stack", str(project)], check=False)
    assert result.returncode == 1
    assert "changed after signing" in result.stderr and "nothing was loaded" in result.stderr
    assert "[2/" not in result.stderr  # the signature check is the first step, and nothing after it ran
    assert not engine.image.exists(LOCAL_NAME)

    # One byte flipped (and a fresh .sha256) is refused before loading too: the archive no longer reads.
    flipped = tmp_path / "flipped" / bundle.name
    flipped.parent.mkdir()
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    flipped.write_bytes(bytes(data))
    shutil.copy(signature, flipped.with_name(signature.name))
    flipped.with_name(flipped.name + ".sha256").write_text(checksum_line(sha256_of(flipped), flipped))
    result = run_invoke(["prod-airtight", "--bundle", str(flipped), "--no-start", "--stack", str(project)], check=False)
    assert result.returncode == 1 and "nothing was loaded" in result.stderr
    assert not engine.image.exists(LOCAL_NAME)
