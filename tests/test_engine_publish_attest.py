"""publish-build with provenance, publish-merge of the one-platform indexes it pushes, and verify of the result.

A tiny two-image project (busybox plus a file each) committed in git,
published for linux/amd64 and linux/arm64 (QEMU) to the registry on
127.0.0.1:5000, the way tests/test_engine_publish.py publishes the sample stack.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest
from conftest import REGISTRY, registry_tags, run_invoke
from test_engine_publish import commit_all, is_attestation, raw, repo_path

PROJECT = "polyarch-attesttest"
IMAGES = ("app", "web")
PLATFORMS = ("linux/amd64", "linux/arm64")
ARCHES = ("amd64", "arm64")
SHA = "abc1234"

SETTINGS = f"""\
[project]
name = "{PROJECT}"

[modes.prod]
files = ["compose.yaml"]
"""


@pytest.fixture(scope="module")
def namespace(registry):
    return f"{REGISTRY}/attesttest-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def project(engine, tmp_path_factory):
    """Two one-file busybox images, committed in git."""
    root = tmp_path_factory.mktemp("attest")
    services = []
    for name in IMAGES:
        (root / name).mkdir()
        (root / name / "Dockerfile").write_text("FROM busybox:1.36.1\nCOPY hello.txt /hello.txt\n")
        (root / name / "hello.txt").write_text(f"{name}\n")
        services.append(f"  {name}:\n    build: ./{name}\n    image: {PROJECT}-{name}:latest\n    command: [\"sleep\", \"3600\"]\n")
    (root / "compose.yaml").write_text("services:\n" + "".join(services))
    (root / "polyarch.toml").write_text(SETTINGS)
    commit_all(root)
    return root


def publish(project, namespace, folder, *flags: str):
    for platform in PLATFORMS:
        run_invoke(["publish-build", "--platform", platform, "--registry", namespace, "--digest-dir", str(folder),
                    "--ref", "refs/tags/v1.0.0", *flags, "--stack", str(project)], timeout=900)
    return folder


@pytest.fixture(scope="module")
def attested(project, namespace, tmp_path_factory):
    """Digests publish-build wrote with its defaults (provenance on)."""
    return publish(project, namespace, tmp_path_factory.mktemp("attested"))


@pytest.fixture(scope="module")
def plain(project, namespace, tmp_path_factory):
    """Digests publish-build wrote with --no-provenance."""
    return publish(project, namespace, tmp_path_factory.mktemp("plain"), "--no-provenance")


def digest(folder, image: str, arch: str) -> str:
    return (folder / image / arch).read_text().strip()


def merge(project, namespace, folder, ref: str, check: bool = True):
    return run_invoke(["publish-merge", "--registry", namespace, "--digest-dir", str(folder), "--ref", ref, "--sha", SHA,
                       "--stack", str(project)], check=check)


def attestation_rows(project, ref: str) -> dict[str, str]:
    """verify's table: each platform's attestations column."""
    result = run_invoke(["verify", ref, "--stack", str(project)])
    rows = {}
    for line in (result.stdout + result.stderr).splitlines():
        cells = [cell.strip() for cell in line.split("\u2502")[1:-1]]
        if len(cells) == 3 and cells[0].startswith("linux/"):
            rows[cells[0]] = cells[2]
    return rows


def tags(namespace) -> dict[str, list[str]]:
    return {image: registry_tags(repo_path(namespace, image)) for image in IMAGES}


def test_publish_build_pushes_each_platform_as_an_index_of_the_image_and_its_provenance(namespace, attested):
    for image in IMAGES:
        for arch, platform in zip(ARCHES, PLATFORMS):
            index = raw(f"{namespace}/{image}@{digest(attested, image, arch)}")
            assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
            (own,) = [m for m in index["manifests"] if not is_attestation(m)]
            assert f"{own['platform']['os']}/{own['platform']['architecture']}" == platform
            references = [m["annotations"]["vnd.docker.reference.digest"] for m in index["manifests"] if is_attestation(m)]
            assert references == [own["digest"]]
        assert registry_tags(repo_path(namespace, image)) == [], "publish-build must not push any tag"


def test_the_merged_lists_keep_every_platforms_provenance_as_deploy_build_does(project, namespace, attested):
    merge(project, namespace, attested, "refs/tags/v1.0.0")
    run_invoke(["deploy-build", "--registry", namespace, "--tag", "deployed", "--stack", str(project)], timeout=900)
    for image in IMAGES:
        merged = attestation_rows(project, f"{namespace}/{image}:1.0.0")
        assert merged == dict.fromkeys(PLATFORMS, "provenance (mode=max)")
        assert merged == attestation_rows(project, f"{namespace}/{image}:deployed")
        # The list holds each platform's own image manifest and its attestation manifest.
        entries = raw(f"{namespace}/{image}:1.0.0")["manifests"]
        images = {m["digest"] for m in entries if not is_attestation(m)}
        assert len(images) == 2 and {m["annotations"]["vnd.docker.reference.digest"] for m in entries if is_attestation(m)} == images


def test_without_provenance_the_digests_are_plain_manifests_and_still_merge(project, namespace, plain):
    for image in IMAGES:
        for arch in ARCHES:
            assert raw(f"{namespace}/{image}@{digest(plain, image, arch)}")["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    merge(project, namespace, plain, "refs/tags/v0.9.0")
    for image in IMAGES:
        assert attestation_rows(project, f"{namespace}/{image}:0.9.0") == dict.fromkeys(PLATFORMS, "none")
        assert {m["digest"] for m in raw(f"{namespace}/{image}:0.9.0")["manifests"]} == {digest(plain, image, a) for a in ARCHES}


def test_a_mixed_set_of_indexes_and_plain_manifests_merges(project, namespace, attested, plain, tmp_path):
    mixed = tmp_path / "digests"
    shutil.copytree(attested, mixed)
    for image in IMAGES:
        (mixed / image / "arm64").write_text(digest(plain, image, "arm64") + "\n")
    merge(project, namespace, mixed, "refs/tags/v0.8.0")
    assert attestation_rows(project, f"{namespace}/app:0.8.0") == {"linux/amd64": "provenance (mode=max)", "linux/arm64": "none"}


def refused(project, namespace, folder, ref: str) -> str:
    before = tags(namespace)
    result = merge(project, namespace, folder, ref, check=False)
    assert result.returncode == 1, result.stderr
    assert tags(namespace) == before
    return result.stderr


def test_merge_refuses_an_index_of_another_platform(project, namespace, attested, tmp_path):
    bad = tmp_path / "digests"
    shutil.copytree(attested, bad)
    (bad / "web" / "amd64").write_text(digest(attested, "web", "arm64") + "\n")
    assert f"{namespace}/web@{digest(attested, 'web', 'arm64')} does not serve linux/amd64" in refused(project, namespace, bad, "refs/tags/v9.1.0")


def test_merge_refuses_an_index_of_another_image_in_the_same_repository(project, namespace, attested, tmp_path):
    intruder = digest(attested, "app", "amd64")
    subprocess.run(["docker", "buildx", "imagetools", "create", "-t", f"{namespace}/web:intruder", f"{namespace}/app@{intruder}"],
                   check=True, capture_output=True)
    bad = tmp_path / "digests"
    shutil.copytree(attested, bad)
    (bad / "web" / "amd64").write_text(intruder + "\n")
    message = refused(project, namespace, bad, "refs/tags/v9.2.0")
    assert f"{namespace}/web for linux/amd64: the digest {intruder} is not the image publish-build built" in message
    assert "nothing was merged" in message
    assert "org.opencontainers.image.title is 'app'" in message


def test_merge_refuses_indexes_built_from_another_commit(project, namespace, attested, tmp_path):
    later = tmp_path / "later"
    shutil.copytree(project, later)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "later"],
                   cwd=later, check=True)
    assert "org.opencontainers.image.revision is " in refused(later, namespace, attested, "refs/tags/v9.3.0")


def test_the_plan_shows_the_attestations_and_polyarch_toml_turns_provenance_off(project, namespace, tmp_path):
    args = ["publish-build", "--platform", "linux/arm64", "--registry", namespace, "--digest-dir", str(tmp_path / "d"), "--dry-run"]
    text = run_invoke([*args, "--stack", str(project)]).stderr
    assert "attestations: provenance (mode=max)" in text
    off = tmp_path / "off"
    shutil.copytree(project, off)
    (off / "polyarch.toml").write_text(SETTINGS + "\n[attestations]\nprovenance = false\n")
    plan = json.loads(run_invoke([*args, "--json", "--stack", str(off)]).stdout)["plan"]
    assert "attestations: none" in plan["notes"]
    (build,) = [s for s in plan["steps"] if s["kind"] == "Build"]
    assert {t["name"]: t["provenance"] for t in build["targets"]} == dict.fromkeys(IMAGES, False)


def test_an_sbom_is_refused_before_anything_is_built_when_the_scanner_image_cannot_be_had(project, namespace, tmp_path):
    result = run_invoke(["publish-build", "--platform", "linux/amd64", "--registry", namespace, "--digest-dir", str(tmp_path / "d"),
                         "--sbom", "--stack", str(project)], check=False)
    assert result.returncode == 2 and "docker/buildkit-syft-scanner" in result.stderr and "nothing was built" in result.stderr
    assert not (tmp_path / "d").exists(), "not even the digest folder is made"
