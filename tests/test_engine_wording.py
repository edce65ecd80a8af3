"""Messages against the real engine: a failing build step said once, a missing tag listing the registry's tags."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from conftest import REGISTRY, run_invoke

BASE = "busybox:1.36.1"


def write_project(root: Path, dockerfile: str) -> Path:
    """A one-service compose project (service `web`, built from ./Dockerfile) in a git repo of its own."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "compose.yaml").write_text(f"name: {root.name}\nservices:\n  web:\n    build: .\n    image: {root.name}-web:latest\n")
    (root / "Dockerfile").write_text(dockerfile)
    (root / ".env").write_text("")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "project"], cwd=root, check=True)
    return root


def test_a_failing_run_line_is_reported_once_with_service_and_dockerfile_line(engine, tmp_path):
    root = write_project(tmp_path / f"wording-{uuid.uuid4().hex[:6]}",
                         f"FROM {BASE}\nRUN echo fine\nRUN echo wording-probe-fails && exit 3\n")
    result = run_invoke(["build", "--platform", "linux/amd64", "--stack", str(root)], check=False, timeout=600)
    err = result.stderr
    assert result.returncode == 1, err
    summary = [line for line in err.splitlines() if line.startswith("ERROR ")]
    assert len(summary) == 1, err
    assert "image (service web) failed to build at " in summary[0]
    assert summary[0].endswith("Dockerfile:3: `RUN echo wording-probe-fails && exit 3` exited with code 3."), err
    # buildx' own summary line appears once: the error no longer repeats its output.
    assert err.count("ERROR: failed to solve") == 1, err
    assert "doctor" not in err


def test_prod_after_deploy_build_names_the_pushed_tag_and_how_to_pick_it(engine, registry, tmp_path):
    from polyarch.adapters.git import git_state
    from polyarch.model.loading import load_stack

    root = write_project(tmp_path / f"wording-{uuid.uuid4().hex[:6]}", f"FROM {BASE}\n")
    namespace = f"{REGISTRY}/{root.name}"
    repository = load_stack(str(root)).role("prod").images[0].repository
    commit = git_state(root).short_sha
    # What deploy-build leaves in the registry: the image under the commit's tag (and an older one), no `latest`.
    for tag in ("older1", commit):
        engine.image.tag(BASE, f"{namespace}/{repository}:{tag}")
        engine.image.push(f"{namespace}/{repository}:{tag}", quiet=True)
        engine.image.remove(f"{namespace}/{repository}:{tag}")
    result = run_invoke(["prod", "--registry", namespace, "--platform", "linux/amd64", "--stack", str(root)], check=False, timeout=600)
    err = result.stderr
    assert result.returncode == 1, err
    assert f"{namespace}/{repository}:latest is not in its registry" in err
    assert f"Its tags: {commit} (this commit), older1." in err
    assert "prod runs 'latest' unless --version or $VERSION names another" in err
    assert f"TIP Run a published version: `invoke prod --version {commit}`" in err
    assert "doctor" not in err
    checked = run_invoke(["verify", f"{namespace}/{repository}:latest", "--stack", str(root)], check=False)
    assert checked.returncode == 1, checked.stderr
    assert f"Its tags: {commit} (this commit), older1." in checked.stderr
    assert f"TIP Check one it has: `invoke verify {namespace}/{repository}:{commit}`." in checked.stderr


def test_logs_of_a_stack_that_has_no_containers_says_so(engine, tmp_path):
    root = write_project(tmp_path / f"wording-{uuid.uuid4().hex[:6]}", f"FROM {BASE}\n")
    result = run_invoke(["logs", "--no-follow", "--stack", str(root)], check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"The {root.name} stack has no containers, so there are no logs" in result.stderr
    assert "dev --stack" in result.stderr
