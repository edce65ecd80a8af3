"""deploy-build, verify and prod against the real engine and the registry on 127.0.0.1:5000."""

from __future__ import annotations

import platform
import os
import uuid

import pytest
from conftest import REGISTRY, registry_catalog, registry_tags, run_invoke
from test_engine_devloop import both_heartbeats_fresh, copy_stack, wait_for

PROJECT = "polyarch-reltest"

VALUES = """\
# Helm values for the sample chart. Comments must survive a deploy-build.
image:
  registry: REGISTRY   # where deploy-build pushes
  tag: old-tag         # written by deploy-build
replicas: 2
"""


@pytest.fixture(scope="module")
def namespace(registry):
    return f"{REGISTRY}/reltest-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def stack_file(engine, registry, tmp_path_factory):
    path = copy_stack(tmp_path_factory.mktemp("release"), PROJECT)
    yield path
    run_invoke(["nuke", "--stack", str(path)], check=False)


@pytest.fixture(scope="module")
def values_stack(engine, namespace, tmp_path_factory):
    """A copy of the stack that names a Helm values file holding the registry."""
    path = copy_stack(tmp_path_factory.mktemp("values"), PROJECT)
    (path.parent / "deploy").mkdir()
    (path.parent / "deploy" / "values.yaml").write_text(VALUES.replace("REGISTRY", namespace))
    text = path.read_text().replace('registry = ""', 'values_file = "deploy/values.yaml"', 1)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def published(stack_file, namespace):
    """The default deploy-build: every image for linux/amd64 and linux/arm64."""
    result = run_invoke(["deploy-build", "--registry", namespace, "--tag", "t1", "--stack", str(stack_file)], timeout=1800)
    return result


def platforms_of(engine, ref: str) -> list[str]:
    manifest = engine.buildx.imagetools.inspect(ref)
    return sorted(f"{m.platform.os}/{m.platform.architecture}" for m in manifest.manifests if m.platform.os != "unknown")


def test_default_deploy_build_publishes_both_platforms_per_image(engine, namespace, published):
    for repo in ("server", "frontend"):
        assert platforms_of(engine, f"{namespace}/{repo}:t1") == ["linux/amd64", "linux/arm64"]
    assert "Published in" in published.stderr
    for repo in ("server", "frontend"):
        assert f"{namespace}/{repo}:t1@sha256:" in published.stdout


def test_the_arm64_variant_runs_arm64_code(engine, namespace, published):
    out = engine.run(f"{namespace}/server:t1", ["python3", "-c", "import platform; print(platform.machine())"],
                     platform="linux/arm64", remove=True, pull="always")
    assert out.strip() == "aarch64"


def test_three_platforms_with_arm_v7_for_a_raspberry_pi_fleet(engine, namespace, stack_file):
    run_invoke(["deploy-build", "--platforms", "linux/amd64,linux/arm64,linux/arm/v7", "--registry", namespace,
                "--tag", "pi", "--stack", str(stack_file)], timeout=2400)
    manifest = engine.buildx.imagetools.inspect(f"{namespace}/server:pi")
    assert sorted("/".join(filter(None, (m.platform.os, m.platform.architecture, m.platform.variant)))
                  for m in manifest.manifests if m.platform.os != "unknown") == ["linux/amd64", "linux/arm/v7", "linux/arm64"]
    out = engine.run(f"{namespace}/server:pi", ["python3", "-c", "import platform; print(platform.machine())"],
                     platform="linux/arm/v7", remove=True, pull="always")
    assert out.strip() == "armv7l"


def test_platforms_flag_builds_only_what_it_names(engine, namespace, stack_file):
    run_invoke(["deploy-build", "--platforms", "linux/arm64", "--registry", namespace, "--tag", "arm-flag",
                "--stack", str(stack_file)], timeout=1800)
    assert platforms_of(engine, f"{namespace}/server:arm-flag") == ["linux/arm64"]


def test_platforms_env_var_works_like_the_makefile(engine, namespace, stack_file):
    run_invoke(["deploy-build", "--registry", namespace, "--tag", "arm-env", "--stack", str(stack_file)],
               env={"PLATFORMS": "linux/arm64"}, timeout=1800)
    assert platforms_of(engine, f"{namespace}/frontend:arm-env") == ["linux/arm64"]


def test_the_flag_wins_over_the_env_var(stack_file, namespace):
    result = run_invoke(["deploy-build", "--dry-run", "--platforms", "linux/amd64", "--registry", namespace,
                         "--tag", "x", "--stack", str(stack_file)], env={"PLATFORMS": "linux/arm64"})
    assert "platforms from --platforms: linux/amd64" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--platforms", "linux/amd65"], "'linux/amd65' is not a platform"),
    (["--registry", ""], "is empty, which is not a registry"),
    (["--registry", "your-registry"], "'your-registry', which is not a registry"),
])
def test_bad_input_is_refused_before_anything_is_pushed(stack_file, namespace, registry, args, message):
    before = registry_catalog()
    full = ["deploy-build", "--tag", "bad", "--stack", str(stack_file)]
    if "--registry" not in args:
        full += ["--registry", namespace]
    result = run_invoke(full + args, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert registry_catalog() == before


def test_dry_run_pushes_nothing_and_prints_the_whole_plan(values_stack, namespace):
    values = values_stack.parent / "deploy" / "values.yaml"
    before = values.read_text()
    result = run_invoke(["deploy-build", "--dry-run", "--tag", "dry", "--stack", str(values_stack)])
    for image in ("server", "frontend"):
        assert f"{namespace}/{image}:dry" in result.stderr
    assert "linux/amd64" in result.stderr and "linux/arm64" in result.stderr
    assert "docker buildx bake" in result.stderr
    assert registry_tags(f"{namespace.split('/', 1)[1]}/server").count("dry") == 0
    assert values.read_text() == before


def test_values_file_gets_the_tag_only_after_a_verified_push(engine, values_stack, namespace):
    values = values_stack.parent / "deploy" / "values.yaml"
    run_invoke(["deploy-build", "--tag", "from-values", "--stack", str(values_stack)], timeout=1800)
    text = values.read_text()
    assert "tag: from-values" in text
    assert "# Helm values for the sample chart" in text and "# where deploy-build pushes" in text
    assert platforms_of(engine, f"{namespace}/server:from-values") == ["linux/amd64", "linux/arm64"]


def test_values_file_is_untouched_when_the_build_fails(values_stack, tmp_path):
    values = values_stack.parent / "deploy" / "values.yaml"
    before = values.read_text()
    dockerfile = values_stack.parent / "docker" / "frontend" / "Dockerfile"
    original = dockerfile.read_text()
    dockerfile.write_text(original + "\nRUN exit 3\n")
    try:
        result = run_invoke(["deploy-build", "--tag", "broken", "--stack", str(values_stack)], check=False, timeout=1800)
    finally:
        dockerfile.write_text(original)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert values.read_text() == before


def test_verify_fails_on_a_single_arch_tag_when_both_are_asked_for(namespace, published, stack_file):
    run_invoke(["deploy-build", "--platforms", "linux/amd64", "--registry", namespace, "--tag", "amd-only",
                "--stack", str(stack_file)], timeout=1800)
    bad = run_invoke(["verify", f"{namespace}/server:amd-only", "--platforms", "linux/amd64,linux/arm64"], check=False)
    assert bad.returncode != 0
    assert "does not serve linux/arm64" in bad.stderr
    good = run_invoke(["verify", f"{namespace}/server:t1"])
    assert f"{namespace}/server:t1@sha256:" in good.stdout


def test_prod_runs_the_published_images_for_the_host(stack_file, namespace, published):
    run_invoke(["init", "--stack", str(stack_file)])
    result = run_invoke(["prod", "--version", "t1", "--registry", namespace, "--stack", str(stack_file)])
    assert "got linux/amd64" in result.stderr or "got linux/arm64" in result.stderr
    health = wait_for(both_heartbeats_fresh, 90)
    assert health and health["machine"] == platform.machine()
    assert health["stage"] == "prod"


def test_prod_for_arm64_runs_the_arm64_variant(stack_file, namespace, published):
    result = run_invoke(["prod", "--version", "t1", "--registry", namespace, "--platform", "linux/arm64",
                         "--stack", str(stack_file)], timeout=900)
    assert "got linux/arm64" in result.stderr
    health = wait_for(both_heartbeats_fresh, 120)
    assert health and health["machine"] == "aarch64"
    run_invoke(["down", "--stack", str(stack_file)])


def test_prod_refuses_without_env(tmp_path, namespace):
    path = copy_stack(tmp_path, PROJECT)
    result = run_invoke(["prod", "--version", "t1", "--registry", namespace, "--stack", str(path)], check=False)
    assert result.returncode != 0
    assert "does not exist" in result.stderr and "invoke init" in result.stderr


def test_nuke_removes_the_published_images_prod_pulled_and_nothing_else(engine, namespace, published, tmp_path):
    path = copy_stack(tmp_path, PROJECT)
    path.write_text(path.read_text().replace('registry = ""', f'registry = "{namespace}"', 1))
    run_invoke(["init", "--stack", str(path)])
    run_invoke(["prod", "--version", "t1", "--stack", str(path)], timeout=900)
    assert engine.image.exists(f"{namespace}/server:t1") and engine.image.exists(f"{PROJECT}-api:latest")
    bystander = f"polyarch-bystander-{uuid.uuid4().hex[:6]}:keep"
    engine.image.tag("busybox:1.36.1", bystander)
    run_invoke(["nuke", "--stack", str(path)])
    assert not engine.image.exists(f"{namespace}/server:t1") and not engine.image.exists(f"{namespace}/frontend:t1")
    assert not engine.image.exists(f"{PROJECT}-api:latest")
    assert engine.image.exists(bystander) and engine.image.exists("busybox:1.36.1")
    engine.image.remove(bystander)


def test_published_images_carry_oci_labels_and_annotations_of_the_commit(engine, namespace, tmp_path):
    import datetime
    import json
    import subprocess

    path = copy_stack(tmp_path, PROJECT)
    root = path.parent
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "remote", "add", "origin", "git@github.com:example/polyarch-sample.git"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "c", "--date", "2024-05-06T07:08:09Z"], cwd=root, check=True,
                   env=dict(os.environ, GIT_COMMITTER_DATE="2024-05-06T07:08:09Z"))
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    run_invoke(["deploy-build", "--registry", namespace, "--tag", "oci", "--stack", str(path)], timeout=1800)
    ref = f"{namespace}/server:oci"
    want = {"org.opencontainers.image.revision": sha, "org.opencontainers.image.created": "2024-05-06T07:08:09Z",
            "org.opencontainers.image.source": "https://github.com/example/polyarch-sample",
            "org.opencontainers.image.version": "oci", "org.opencontainers.image.title": "server"}
    index = json.loads(subprocess.run(["docker", "buildx", "imagetools", "inspect", ref, "--raw"], capture_output=True,
                                      text=True, check=True).stdout)
    assert want.items() <= (index.get("annotations") or {}).items()
    for entry in index["manifests"]:
        if (entry.get("platform") or {}).get("os") == "unknown":
            continue
        manifest = json.loads(subprocess.run(["docker", "buildx", "imagetools", "inspect", f"{namespace}/server@{entry['digest']}",
                                              "--raw"], capture_output=True, text=True, check=True).stdout)
        assert want.items() <= (manifest.get("annotations") or {}).items()
    engine.image.pull(ref, platform="linux/arm64", quiet=True)
    image = engine.image.inspect(ref)
    assert want.items() <= (image.config.labels or {}).items()
    assert image.created.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") == "2024-05-06T07:08:09Z"
    verify = run_invoke(["verify", ref, "--stack", str(path)])
    assert "org.opencontainers.image.revision" in verify.stderr and sha in verify.stderr
    engine.image.remove(ref, force=True)


def test_a_run_of_verify_steps_is_read_at_once_but_judged_in_order(namespace, published):
    """The registry reads of consecutive Verify steps happen together; each step still fails at its own place."""
    from polyarch.adapters.docker.engine import Engine
    from polyarch.core.errors import EngineError, VerificationError
    from polyarch.execution.runner import run_plan
    from polyarch.planning.plans import Plan
    from polyarch.planning.steps.release import Verify

    both = ("linux/amd64", "linux/arm64")
    server, frontend, missing = f"{namespace}/server:t1", f"{namespace}/frontend:t1", f"{namespace}/server:never-pushed"
    from polyarch.execution.results import VerifyResult

    verified = run_plan(Engine(), Plan("verify", (Verify(server, both), Verify(frontend, both)))).all(VerifyResult)
    assert [v.ref for v in verified] == [server, frontend]
    assert all(v.digest.startswith("sha256:") and set(both) <= set(v.index.platforms) for v in verified)
    # Step 2 fails on its platform before step 3's missing tag is reported.
    with pytest.raises(VerificationError, match=r"frontend:t1 does not serve linux/arm/v7"):
        run_plan(Engine(), Plan("verify", (Verify(server, both), Verify(frontend, both + ("linux/arm/v7",)), Verify(missing, both))))
    with pytest.raises(EngineError, match="never-pushed"):
        run_plan(Engine(), Plan("verify", (Verify(server, both), Verify(missing, both), Verify(frontend, both))))
