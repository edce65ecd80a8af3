"""publish-build and publish-merge against the real engine and the registry on 127.0.0.1:5000."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
import uuid

import pytest
from conftest import REGISTRY, local_tags, registry_tags, run_invoke
from test_engine_devloop import copy_stack

PROJECT = "polyarch-pubtest"
SHA = "abc1234"


@pytest.fixture(scope="module")
def namespace(registry):
    return f"{REGISTRY}/pubtest-{uuid.uuid4().hex[:8]}"


PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7")
ARCHES = ("amd64", "arm64", "armv7")
COMMIT_TIME = "2024-05-06T07:08:09Z"
OCI = "org.opencontainers.image."


@pytest.fixture(scope="module")
def stack_file(engine, tmp_path_factory):
    """The sample stack, committed in a git repository with a GitHub remote at a known time."""
    path = copy_stack(tmp_path_factory.mktemp("publish"), PROJECT)
    commit_all(path.parent)
    return path


def commit_all(root) -> None:
    """Make `root` a git repository with a GitHub remote, everything committed at COMMIT_TIME."""
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "remote", "add", "origin", "git@github.com:example/polyarch-pub.git"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c", "--date", COMMIT_TIME],
                   cwd=root, check=True, env=dict(os.environ, GIT_COMMITTER_DATE=COMMIT_TIME))


@pytest.fixture(scope="module")
def digests(stack_file, namespace, tmp_path_factory):
    folder = tmp_path_factory.mktemp("digests")
    for platform in PLATFORMS:
        run_invoke(["publish-build", "--platform", platform, "--registry", namespace, "--digest-dir", str(folder),
                    "--ref", "refs/tags/v1.4.0", "--stack", str(stack_file)], timeout=1800)
    return folder


def head(stack_file) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=stack_file.parent, capture_output=True, text=True,
                          check=True).stdout.strip()


def raw(ref: str) -> dict:
    return json.loads(subprocess.run(["docker", "buildx", "imagetools", "inspect", ref, "--raw"], capture_output=True,
                                     text=True, check=True).stdout)


def repo_path(namespace: str, image: str) -> str:
    return f"{namespace.split('/', 1)[1]}/{image}"


def is_attestation(entry: dict) -> bool:
    return (entry.get("annotations") or {}).get("vnd.docker.reference.type") == "attestation-manifest"


def image_manifest(repository: str, digest: str) -> str:
    """The image manifest a pushed digest stands for: itself, or the one image entry of its one-platform index."""
    found = raw(f"{repository}@{digest}")
    if "manifests" not in found:
        return digest
    (entry,) = [m for m in found["manifests"] if not is_attestation(m)]
    return entry["digest"]


def test_publish_build_pushes_by_digest_only(engine, namespace, digests):
    for image in ("server", "frontend"):
        for arch in ARCHES:
            text = (digests / image / arch).read_text().strip()
            assert text.startswith("sha256:") and len(text) == 71
        assert registry_tags(repo_path(namespace, image)) == [], "publish-build must not push any tag"
        # The docker driver pushes through a staging repository: it exists (200, not 404), and nothing stays in it.
        staging = f"http://{REGISTRY}/v2/{namespace.split('/', 1)[1]}/{PROJECT}-staging/{image}/tags/list"
        with urllib.request.urlopen(staging, timeout=5) as response:
            assert response.status == 200 and not json.load(response).get("tags")
    # ...and no local name either: the docker driver kept each staging tag in the engine, the run removed it.
    assert not [t for t in local_tags() if t.startswith(f"{namespace}/")]


def test_merge_publishes_every_release_tag_with_oci_metadata_for_three_platforms(engine, namespace, digests, stack_file):
    run_invoke(["publish-merge", "--registry", namespace, "--digest-dir", str(digests), "--ref", "refs/tags/v1.4.0",
                "--sha", SHA, "--platforms", ",".join(PLATFORMS), "--stack", str(stack_file)])
    want = {OCI + "revision": head(stack_file), OCI + "created": COMMIT_TIME, OCI + "version": "1.4.0",
            OCI + "source": "https://github.com/example/polyarch-pub"}
    for image in ("server", "frontend"):
        assert registry_tags(repo_path(namespace, image)) == sorted(["1.4.0", "1.4", "latest", f"sha-{SHA}"])
        # publish-build attaches provenance: each digest is a one-platform index, whose entries the list takes over.
        expected = {image_manifest(f"{namespace}/{image}", (digests / image / arch).read_text().strip()): platform
                    for arch, platform in zip(ARCHES, PLATFORMS)}
        titled = dict(want, **{OCI + "title": image})
        for tag in ("1.4.0", "1.4", "latest", f"sha-{SHA}"):
            index = raw(f"{namespace}/{image}:{tag}")
            got = {m["digest"]: "/".join(filter(None, (m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant"))))
                   for m in index["manifests"] if not is_attestation(m)}
            assert got == expected
            attested = [m["annotations"]["vnd.docker.reference.digest"] for m in index["manifests"] if is_attestation(m)]
            assert sorted(attested) == sorted(expected), "every platform keeps its provenance"
            assert titled.items() <= index["annotations"].items(), index.get("annotations")
        for digest in expected:
            assert titled.items() <= raw(f"{namespace}/{image}@{digest}")["annotations"].items()
    # The arm/v7 image's config, as the registry serves it.
    arm = (digests / "server" / "armv7").read_text().strip()
    config = json.loads(subprocess.run(["docker", "buildx", "imagetools", "inspect", f"{namespace}/server@{arm}",
                                        "--format", "{{json .Image}}"], capture_output=True, text=True, check=True).stdout)
    assert (config["architecture"], config.get("variant")) == ("arm", "v7")
    assert dict(want, **{OCI + "title": "server"}).items() <= config["config"]["Labels"].items()
    # SOURCE_DATE_EPOCH reached the build: the image is dated at the commit.
    assert config["created"].startswith(COMMIT_TIME[:-1])


def test_merge_refuses_a_missing_arch_before_touching_the_registry(namespace, digests, stack_file, tmp_path):
    partial = tmp_path / "digests"
    for image in ("server", "frontend"):
        (partial / image).mkdir(parents=True)
        (partial / image / "amd64").write_text((digests / image / "amd64").read_text())
    before = {i: registry_tags(repo_path(namespace, i)) for i in ("server", "frontend")}
    result = run_invoke(["publish-merge", "--registry", namespace, "--digest-dir", str(partial), "--ref",
                         "refs/tags/v2.0.0", "--sha", SHA, "--stack", str(stack_file)], check=False)
    assert result.returncode != 0
    assert "server for linux/arm64" in result.stderr and "is missing" in result.stderr
    assert {i: registry_tags(repo_path(namespace, i)) for i in ("server", "frontend")} == before


def test_merge_refuses_a_malformed_digest_file(namespace, digests, stack_file, tmp_path):
    bad = tmp_path / "digests"
    for image in ("server", "frontend"):
        for arch in ("amd64", "arm64"):
            (bad / image).mkdir(parents=True, exist_ok=True)
            (bad / image / arch).write_text((digests / image / arch).read_text())
    (bad / "frontend" / "arm64").write_text("sha256:nothex\n")
    result = run_invoke(["publish-merge", "--registry", namespace, "--digest-dir", str(bad), "--ref", "refs/heads/main",
                         "--sha", SHA, "--stack", str(stack_file)], check=False)
    assert result.returncode != 0 and "does not hold a sha256:<64 hex> digest" in result.stderr and "nothex" not in result.stderr
    assert "edge" not in registry_tags(repo_path(namespace, "frontend"))


def test_merge_refuses_an_unknown_image_directory(namespace, digests, stack_file, tmp_path):
    odd = tmp_path / "digests"
    shutil.copytree(digests, odd)
    (odd / "mystery").mkdir()
    result = run_invoke(["publish-merge", "--registry", namespace, "--digest-dir", str(odd), "--sha", SHA,
                         "--ref", "refs/heads/main", "--stack", str(stack_file)], check=False)
    assert result.returncode != 0 and "mystery" in result.stderr and "does not describe" in result.stderr


def test_merge_dry_run_prints_tags_and_sources_and_pushes_nothing(namespace, digests, stack_file):
    result = run_invoke(["publish-merge", "--dry-run", "--registry", namespace, "--digest-dir", str(digests),
                         "--ref", "refs/tags/v3.1.0-rc.1", "--sha", SHA, "--stack", str(stack_file)])
    assert "tags 3.1.0-rc.1, sha-abc1234" in result.stderr
    arm = (digests / "server" / "arm64").read_text().strip()
    assert f"{namespace}/server@{arm}" in result.stderr
    assert "3.1.0-rc.1" not in registry_tags(repo_path(namespace, "server"))


def test_merge_refuses_a_manifest_list_digest_as_one_platforms_source(engine, namespace, digests, stack_file, tmp_path):
    """The amd64 file names a multi-platform list: merging it would give a tag with arm64 twice."""
    run_invoke(["publish-merge", "--registry", namespace, "--digest-dir", str(digests), "--ref", "refs/heads/feature",
                "--sha", "def5678", "--stack", str(stack_file)])
    merged = raw(f"{namespace}/frontend:sha-def5678")
    index_digest = run_invoke(["verify", f"{namespace}/frontend:sha-def5678", "--stack", str(stack_file)]).stdout.strip().rsplit("@", 1)[1]
    assert len([m for m in merged["manifests"] if not is_attestation(m)]) == 2 and index_digest.startswith("sha256:")
    bad = tmp_path / "digests"
    shutil.copytree(digests, bad)
    (bad / "frontend" / "amd64").write_text(index_digest + "\n")
    result = run_invoke(["publish-merge", "--registry", namespace, "--digest-dir", str(bad), "--ref", "refs/heads/main",
                         "--sha", SHA, "--stack", str(stack_file)], check=False)
    assert result.returncode != 0 and "is a manifest list, not a single linux/amd64 manifest" in result.stderr, result.stderr
    assert "edge" not in registry_tags(repo_path(namespace, "frontend"))


def test_merge_refuses_a_digest_of_another_image_in_the_same_repository(namespace, digests, stack_file, tmp_path):
    """An amd64 busybox pushed into the frontend's repository has the right platform, but it is not the frontend."""
    busybox = raw(f"{REGISTRY}/library/busybox:1.36.1")
    amd64 = next(m["digest"] for m in busybox["manifests"] if m["platform"]["architecture"] == "amd64")
    subprocess.run(["docker", "buildx", "imagetools", "create", "-t", f"{namespace}/frontend:intruder",
                    f"{REGISTRY}/library/busybox@{amd64}"], check=True, capture_output=True)
    assert raw(f"{namespace}/frontend@{amd64}")["config"], "the foreign image is not in the frontend's repository"
    bad = tmp_path / "digests"
    shutil.copytree(digests, bad)
    (bad / "frontend" / "amd64").write_text(amd64 + "\n")
    before = {i: registry_tags(repo_path(namespace, i)) for i in ("server", "frontend")}
    result = run_invoke(["publish-merge", "--registry", namespace, "--digest-dir", str(bad), "--ref", "refs/tags/v9.9.0",
                         "--sha", SHA, "--stack", str(stack_file)], check=False)
    assert result.returncode == 1, result.stderr
    assert f"{namespace}/frontend for linux/amd64: the digest {amd64} is not the image publish-build built" in result.stderr
    assert "nothing was merged" in result.stderr
    assert {i: registry_tags(repo_path(namespace, i)) for i in ("server", "frontend")} == before
