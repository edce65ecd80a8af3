"""publish-build and publish-merge against the real engine and the registry on 127.0.0.1:5000."""

from __future__ import annotations

import shutil
import uuid

import pytest
from conftest import REGISTRY, registry_tags, run_invoke
from test_engine_devloop import copy_stack

PROJECT = "polyarch-pubtest"
SHA = "abc1234"


@pytest.fixture(scope="module")
def namespace(registry):
    return f"{REGISTRY}/pubtest-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def stack_file(engine, tmp_path_factory):
    return copy_stack(tmp_path_factory.mktemp("publish"), PROJECT)


@pytest.fixture(scope="module")
def digests(stack_file, namespace, tmp_path_factory):
    folder = tmp_path_factory.mktemp("digests")
    for platform in ("linux/amd64", "linux/arm64"):
        run_invoke(["publish-build", "--platform", platform, "--registry", namespace, "--digest-dir", str(folder),
                    "--stack", str(stack_file)], timeout=1800)
    return folder


def repo_path(namespace: str, image: str) -> str:
    return f"{namespace.split('/', 1)[1]}/{image}"


def test_publish_build_pushes_by_digest_only(namespace, digests):
    for image in ("server", "frontend"):
        for arch in ("amd64", "arm64"):
            text = (digests / image / arch).read_text().strip()
            assert text.startswith("sha256:") and len(text) == 71
        assert registry_tags(repo_path(namespace, image)) == [], "publish-build must not push any tag"


def test_merge_publishes_every_release_tag_from_the_digest_files(engine, namespace, digests, stack_file):
    run_invoke(["publish-merge", "--registry", namespace, "--digest-dir", str(digests), "--ref", "refs/tags/v1.4.0",
                "--sha", SHA, "--stack", str(stack_file)])
    for image in ("server", "frontend"):
        assert registry_tags(repo_path(namespace, image)) == sorted(["1.4.0", "1.4", "latest", f"sha-{SHA}"])
        expected = {(digests / image / arch).read_text().strip(): f"linux/{arch}" for arch in ("amd64", "arm64")}
        for tag in ("1.4.0", "1.4", "latest", f"sha-{SHA}"):
            manifest = engine.buildx.imagetools.inspect(f"{namespace}/{image}:{tag}")
            got = {m.digest: f"{m.platform.os}/{m.platform.architecture}" for m in manifest.manifests}
            assert got == expected


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
    merged = engine.buildx.imagetools.inspect(f"{namespace}/frontend:sha-def5678")
    index_digest = run_invoke(["verify", f"{namespace}/frontend:sha-def5678", "--stack", str(stack_file)]).stdout.strip().rsplit("@", 1)[1]
    assert len(merged.manifests) == 2 and index_digest.startswith("sha256:")
    bad = tmp_path / "digests"
    shutil.copytree(digests, bad)
    (bad / "frontend" / "amd64").write_text(index_digest + "\n")
    result = run_invoke(["publish-merge", "--registry", namespace, "--digest-dir", str(bad), "--ref", "refs/heads/main",
                         "--sha", SHA, "--stack", str(stack_file)], check=False)
    assert result.returncode != 0 and "is a manifest list, not a single linux/amd64 manifest" in result.stderr, result.stderr
    assert "edge" not in registry_tags(repo_path(namespace, "frontend"))
