"""The generated GitHub workflows (polyarch.planning.ci_workflows): runners, guards, pinned actions, quoting."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from unit_helpers import write_files

from polyarch.cli.tasks import namespace
from polyarch.core.errors import StackError
from polyarch.model.settings import SigningSettings, WorkflowSettings
from polyarch.planning.ci_workflows import Target, render


THREE = ("linux/amd64", "linux/arm64", "linux/arm/v7")


def actionlint() -> str:
    beside_python = Path(sys.executable).parent / "actionlint"
    found = str(beside_python) if beside_python.exists() else shutil.which("actionlint")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("actionlint is not installed (pip install '.[test]' brings it)")
        pytest.skip("actionlint is not installed")
    return found


def lint(folder: Path) -> None:
    result = subprocess.run([actionlint(), *map(str, sorted(folder.glob("*.yml")))], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def commands(text: str) -> list[list[str]]:
    """Every `polyarch ...` or `invoke ...` command line in a workflow's run steps, split into words."""
    doc = YAML(typ="safe").load(text)
    found = []
    for job in doc["jobs"].values():
        for step in job.get("steps", []):
            for line in str(step.get("run", "")).splitlines():
                for part in re.split(r"&&|;", line):
                    words = shlex.split(part)
                    if words and words[0] in ("polyarch", "invoke"):
                        found.append(words)
    return found


def flags_of(task) -> set[str]:
    flags = set()
    for arg in task.get_arguments():
        for name in arg.names:
            flags.add(("--" if len(name) > 1 else "-") + name.replace("_", "-"))
            if arg.kind is bool and arg.default is True:
                flags.add("--no-" + name.replace("_", "-"))
    return flags


def assert_real_tasks_and_flags(text: str) -> None:
    ns = namespace()
    found = commands(text)
    assert found, "the workflow calls no polyarch task"
    for words in found:
        assert words[1] in ns.task_names, f"no task {words[1]}"
        known = flags_of(ns[words[1]])
        for word in words[2:]:
            if word.startswith("-"):
                assert word.split("=", 1)[0] in known, f"polyarch {words[1]} has no flag {word}"


def matrix(text: str) -> dict[str, dict]:
    doc = YAML(typ="safe").load(text)
    job = doc["jobs"].get("build") or doc["jobs"]["bundle"]
    return {entry["platform"]: entry for entry in job["strategy"]["matrix"]["include"]}


def test_a_three_platform_stack(tmp_path):
    files = render("acme", ("server", "frontend"), THREE, WorkflowSettings())
    lint(write_files(tmp_path, files))
    for text in files.values():
        assert_real_tasks_and_flags(text)
        rows = matrix(text)
        assert list(rows) == list(THREE)
        assert rows["linux/arm/v7"] == {"platform": "linux/arm/v7", "arch": "armv7", "runner": "ubuntu-24.04", "emulated": True}
        assert "linux/arm/v7: under QEMU emulation on ubuntu-24.04" in text
        assert "docker/setup-qemu-action" in text
    images = YAML(typ="safe").load(files["publish-images.yml"])
    merge = images["jobs"]["merge"]
    assert merge["needs"] == "build" and "pull_request" in merge["if"]
    downloads = [s["with"] for s in merge["steps"] if s.get("uses", "").startswith("actions/download-artifact")]
    assert {(d["name"], d["path"]) for d in downloads} == {
        (f"digest-{image}-{arch}", f"digests/{image}") for image in ("server", "frontend") for arch in ("amd64", "arm64", "armv7")}
    (merge_step,) = [s for s in merge["steps"] if "publish-merge" in s.get("run", "")]
    assert '--platforms "$POLYARCH_PLATFORMS" > "$RUNNER_TEMP/published.txt"' in merge_step["run"]
    assert merge_step["env"]["POLYARCH_PLATFORMS"] == ",".join(THREE)
    (build_command,) = [c for c in commands(files["publish-images.yml"]) if c[1] == "publish-build"]
    assert build_command[-2:] == ["--cache", "$POLYARCH_CACHE"]
    (build_step,) = [s for s in images["jobs"]["build"]["steps"] if "publish-build" in s.get("run", "")]
    assert build_step["env"] == {"POLYARCH_PLATFORM": "${{ matrix.platform }}", "POLYARCH_CACHE": "gha"}
    assert "crazy-max/ghaction-github-runtime" in files["publish-images.yml"]


def test_no_emulation_step_when_every_platform_has_a_native_runner():
    files = render("acme", ("server",), ("linux/amd64", "linux/arm64"), WorkflowSettings())
    assert "setup-qemu-action" not in files["publish-images.yml"]


def test_a_project_in_a_subfolder_runs_there_and_uploads_from_there(tmp_path):
    options = WorkflowSettings(registry="registry.example.com/team", cache="none", airtight=False, branches=[])
    files = render("acme", ("server",), ("linux/amd64",), options, Target(folder="deploy/stack", install="pip install ."))
    assert list(files) == ["publish-images.yml"]
    lint(write_files(tmp_path, files))
    doc = YAML(typ="safe").load(files["publish-images.yml"])
    assert doc["jobs"]["build"]["defaults"]["run"]["working-directory"] == "deploy/stack"
    uploads = [s["with"]["path"] for s in doc["jobs"]["build"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads == ["deploy/stack/digests/server/${{ matrix.arch }}"]
    assert "--cache" not in files["publish-images.yml"] and "branches" not in doc["on"]["push"]
    login = next(s for s in doc["jobs"]["build"]["steps"] if "login-action" in s.get("uses", ""))
    assert login["with"]["registry"] == "registry.example.com"


def test_settings_reach_run_steps_only_through_quoted_env_values(tmp_path):
    """Odd but valid values: the YAML reads back as the same structure, and no run line holds them."""
    options = WorkflowSettings(registry="registry.example.com:5000/team", cache="registry.example.com:5000/team/cache",
                               install="pip install 'polyarch[test]' # pinned: no")
    files = render("acme", ("server",), ("linux/amd64", "linux/arm64"), options)
    lint(write_files(tmp_path, files))
    doc = YAML(typ="safe").load(files["publish-images.yml"])
    assert list(doc) == ["name", "on", "permissions", "concurrency", "jobs"] and list(doc["jobs"]) == ["build", "merge", "summary"]
    steps = doc["jobs"]["build"]["steps"]
    runs = [s["run"] for job in doc["jobs"].values() for s in job["steps"] if "run" in s]
    assert "pip install 'polyarch[test]' # pinned: no" in runs
    for value in ("registry.example.com", "/cache", "linux/", "${{"):
        assert not [r for r in runs if value in r and not r.startswith("pip install")], value
    registry = next(s for s in steps if s.get("name") == "registry")
    assert registry["env"] == {"POLYARCH_REGISTRY": "registry.example.com:5000/team"}
    assert registry["run"] == 'echo "REGISTRY=$POLYARCH_REGISTRY" >> "$GITHUB_ENV"'
    build = next(s for s in steps if s.get("name") == "build and push by digest")
    assert build["env"] == {"POLYARCH_PLATFORM": "${{ matrix.platform }}", "POLYARCH_CACHE": "registry.example.com:5000/team/cache"}
    assert 'POLYARCH_REGISTRY: "registry.example.com:5000/team"' in files["publish-images.yml"]
    merge = next(s for s in doc["jobs"]["merge"]["steps"] if s.get("name") == "merge, tag and verify")
    assert merge["env"] == {"POLYARCH_PLATFORMS": "linux/amd64,linux/arm64"}
    airtight = YAML(typ="safe").load(files["publish-airtight.yml"])
    assert list(airtight) == ["name", "on", "permissions", "jobs"]


def test_a_project_name_or_folder_with_a_line_break_is_refused():
    from polyarch.core.errors import StackError

    with pytest.raises(StackError, match="line break"):
        render("acme\non: push", ("server",), ("linux/amd64",), WorkflowSettings())
    with pytest.raises(StackError, match="expression"):
        render("acme", ("server",), ("linux/amd64",), WorkflowSettings(), Target(folder="deploy/${{ github.actor }}"))


def test_every_action_is_pinned_by_a_full_sha_with_its_version_beside_it(tmp_path):
    from polyarch.model.settings import SigningSettings
    from polyarch.planning.workflow_yaml import ACTIONS

    options = WorkflowSettings(airtight_from="registry")
    texts = [*render("acme", ("server",), THREE, options, signing=SigningSettings(keyless=True)).values(),
             *render("acme", ("server",), THREE, WorkflowSettings()).values()]
    pins = {f"{repo}@{sha}": version for repo, version, sha in ACTIONS.values()}
    seen = set()
    for text in texts:
        for line in text.splitlines():
            if "uses:" in line:
                ref = line.split("uses:", 1)[1].split("#")[0].strip()
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), line
                assert line.rstrip().endswith(f"# {pins[ref]}"), line
                seen.add(ref)
    assert seen == set(pins), "every pinned action is used, and nothing else"


def test_jobs_are_guarded_to_the_repository_do_not_fail_fast_and_get_least_privilege(tmp_path):
    options = WorkflowSettings(repository="acme-org/acme", free_disk=True)
    files = render("acme", ("server",), THREE, options, Target(repository="acme-org/acme", install="pip install ."))
    lint(write_files(tmp_path, files))
    images = YAML(typ="safe").load(files["publish-images.yml"])
    assert images["permissions"] == {}
    jobs = images["jobs"]
    assert jobs["build"]["if"] == "github.repository == 'acme-org/acme'"
    assert jobs["merge"]["if"] == "github.repository == 'acme-org/acme' && github.event_name != 'pull_request'"
    assert jobs["build"]["strategy"]["fail-fast"] is False
    assert jobs["build"]["permissions"] == jobs["merge"]["permissions"] == {"contents": "read", "packages": "write"}
    assert jobs["summary"]["permissions"] == {} and jobs["summary"]["needs"] == "merge"
    assert "$GITHUB_STEP_SUMMARY" in jobs["summary"]["steps"][0]["run"]
    assert jobs["summary"]["steps"][0]["env"] == {"PUBLISHED": "${{ needs.merge.outputs.published }}"}
    assert jobs["merge"]["outputs"] == {"published": "${{ steps.merge.outputs.published }}"}
    assert jobs["build"]["steps"][0]["name"].startswith("free disk space")
    airtight = YAML(typ="safe").load(files["publish-airtight.yml"])
    assert airtight["jobs"]["bundle"]["permissions"] == {"contents": "read"}
    assert airtight["jobs"]["bundle"]["strategy"]["fail-fast"] is False
    other = YAML(typ="safe").load(render("acme", ("server",), THREE, WorkflowSettings(registry="reg.example.com/t"))["publish-images.yml"])
    assert other["jobs"]["build"]["permissions"] == {"contents": "read"} and "if" not in other["jobs"]["build"]


def test_the_airtight_bundle_can_come_from_the_published_images(tmp_path):
    files = render("acme", ("server",), ("linux/amd64", "linux/arm64"), WorkflowSettings(airtight_from="registry"))
    assert list(files) == ["publish-images.yml"]
    lint(write_files(tmp_path, files))
    assert_real_tasks_and_flags(files["publish-images.yml"])
    job = YAML(typ="safe").load(files["publish-images.yml"])["jobs"]["airtight"]
    assert job["needs"] == "merge" and job["if"] == "startsWith(github.ref, 'refs/tags/')"
    assert job["permissions"] == {"contents": "read", "packages": "read"}
    (package,) = [s for s in job["steps"] if s.get("name") == "package"]
    assert '--registry "$REGISTRY"' in package["run"]
    assert any("login-action" in s.get("uses", "") for s in job["steps"])


def test_github_variables_and_secrets_reach_only_the_building_steps(tmp_path):
    options = WorkflowSettings(env={"NEXT_PUBLIC_API_URL": "vars.API_URL", "SENTRY_TOKEN": "secrets.SENTRY_TOKEN"})
    files = render("acme", ("server",), ("linux/amd64",), options)
    lint(write_files(tmp_path, files))
    images = YAML(typ="safe").load(files["publish-images.yml"])
    (build,) = [s for s in images["jobs"]["build"]["steps"] if s.get("name") == "build and push by digest"]
    assert build["env"]["NEXT_PUBLIC_API_URL"] == "${{ vars.API_URL }}"
    assert build["env"]["SENTRY_TOKEN"] == "${{ secrets.SENTRY_TOKEN }}"
    assert "SENTRY_TOKEN" not in str(images["jobs"]["merge"]) and "SENTRY_TOKEN" not in str(images["jobs"]["summary"])
    bundle = YAML(typ="safe").load(files["publish-airtight.yml"])["jobs"]["bundle"]
    (package,) = [s for s in bundle["steps"] if s.get("name") == "package"]
    assert package["env"]["SENTRY_TOKEN"] == "${{ secrets.SENTRY_TOKEN }}"


def test_keyless_workflows_pass_actionlint_and_only_the_merge_job_may_ask_for_an_oidc_token(tmp_path):
    files = render("acme", ("server", "frontend"), ("linux/amd64", "linux/arm64"), WorkflowSettings(),
                   signing=SigningSettings(keyless=True))
    lint(write_files(tmp_path, files))
    for text in files.values():
        assert_real_tasks_and_flags(text)
    doc = YAML(typ="safe").load(files["publish-images.yml"])
    assert doc["jobs"]["merge"]["permissions"]["id-token"] == "write"
    # Every job has its own least-privilege permissions; only the merge job gets id-token.
    assert "id-token" not in doc["permissions"]
    assert [name for name, job in doc["jobs"].items() if "id-token" in job["permissions"]] == ["merge"]
    uses = [step.get("uses", "") for step in doc["jobs"]["merge"]["steps"]]
    assert any(u.startswith("sigstore/cosign-installer@") for u in uses)
    plain = YAML(typ="safe").load(render("acme", ("server",), ("linux/amd64",), WorkflowSettings())["publish-images.yml"])
    assert "id-token" not in plain["jobs"]["merge"]["permissions"]


def test_ci_bundles_are_not_signed_with_a_key_the_repository_does_not_hold(tmp_path):
    files = render("acme", ("server",), ("linux/amd64",), WorkflowSettings(), signing=SigningSettings(key="keys/cosign.key"))
    lint(write_files(tmp_path, files))
    assert "--no-sign" in files["publish-airtight.yml"]
    assert_real_tasks_and_flags(files["publish-airtight.yml"])
