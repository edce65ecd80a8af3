"""The `polyarch` command (polyarch.cli.program), run in-process on the adoption fixture.

The tests read compose files through the docker CLI's compose plugin (no engine).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from unit_helpers import compose_cli  # noqa: F401  (a fixture; test_process_commands.py imports it from here too)

from polyarch.cli.program import gather_services, main
from polyarch.core import console


REPO = Path(__file__).resolve().parent.parent
LUMEN = REPO / "tests" / "fixtures" / "lumen"
POLYARCH = str(Path(sys.executable).parent / "polyarch")
TASKS = {"logs", "build", "dev", "down"}
VALUE_OPTIONS = {"logs": {"--tail", "--stack", "-s"}, "build": {"--platform", "-p", "--mode", "-m", "--stack"}}


@pytest.mark.parametrize("argv, expected", [
    (["logs", "api", "worker"], ["logs", "--services", "api,worker"]),
    (["logs", "--tail", "5", "api"], ["logs", "--services", "api", "--tail", "5"]),
    (["logs", "api", "--no-follow", "worker"], ["logs", "--services", "api,worker", "--no-follow"]),
    (["logs"], ["logs"]),
    (["build", "api", "down"], ["build", "--services", "api", "down"]),
    (["--debug", "dev", "--dry-run"], ["--debug", "dev", "--dry-run"]),
    (["logs", "--tail=5", "api"], ["logs", "--services", "api", "--tail=5"]),
])
def test_bare_words_after_logs_and_build_become_services(argv, expected):
    assert gather_services(argv, VALUE_OPTIONS, TASKS) == expected


def polyarch(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The `polyarch` command (its main()) run in this process from `cwd`, reported like a finished process.

    In-process keeps these tests fast; test_polyarch_version_and_list runs the installed script itself.
    """
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(NO_COLOR="1", COLUMNS="200", **env)
    os.environ.pop("POLYARCH_STACK", None)
    os.chdir(cwd)
    console.err.cache_clear()
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        console.err.cache_clear()
    return subprocess.CompletedProcess([POLYARCH, *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def lumen_copy(tmp_path):
    dest = tmp_path / "lumen"
    shutil.copytree(LUMEN, dest)
    return dest


def test_json_plan_of_the_adoption_fixture(compose_cli, lumen_copy):
    result = polyarch(["package-airtight", "--dry-run", "--json", "--platform", "linux/arm64", "--version", "9"], lumen_copy / "server")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["project"] == "lumen" and doc["mode"] == "airtight"
    assert doc["compose_files"] == [] or all(f.endswith(".yml") for f in doc["compose_files"])
    images = {i["name"]: i for i in doc["images"]}
    assert set(images["server"]["local_names"]) == {"lumen_server:latest", "lumen_celery-worker:latest", "lumen_celery-beat:latest",
                                                    "lumen_chatbot:latest", "lumen_mcp:latest"}
    assert images["server"]["target"] == "prod" and images["server"]["platforms"] == ["linux/arm64"]
    assert len(doc["third_party"]) == 10
    kinds = [s["kind"] for s in doc["plan"]["steps"]]
    assert kinds == ["KeepNames", "Build"] + ["Pull"] * 10 + ["SaveBundle", "RestoreNames"]
    assert doc["plan"]["steps"][-2]["bundle"].endswith("lumen-airtight-9-arm64.tar.gz")
    # The names packaging touches are exactly the ones it puts back.
    assert doc["plan"]["steps"][0]["names"] == doc["plan"]["steps"][-1]["names"]


def test_json_needs_dry_run(compose_cli, lumen_copy):
    result = polyarch(["dev", "--json"], lumen_copy)
    assert result.returncode == 2 and "--json prints a plan, so it needs --dry-run" in result.stderr


def test_frontend_overlay_follows_the_env_key(compose_cli, lumen_copy):
    (lumen_copy / ".env").write_text("FRONTEND_DEV_RUNTIME=node\n")
    doc = json.loads(polyarch(["dev", "--dry-run", "--json"], lumen_copy).stdout)
    assert [Path(f).name for f in doc["compose_files"]] == ["docker-compose.yaml", "docker-compose.frontend-node.yml"]
    (lumen_copy / ".env").write_text("FRONTEND_DEV_RUNTIME=docker\n")
    doc = json.loads(polyarch(["dev", "--dry-run", "--json"], lumen_copy).stdout)
    assert [Path(f).name for f in doc["compose_files"]] == ["docker-compose.yaml"]


def test_a_misspelled_key_stops_every_task_before_anything(compose_cli, lumen_copy):
    settings = lumen_copy / "polyarch.toml"
    settings.write_text(settings.read_text().replace("values_file", "value_file", 1))
    result = polyarch(["deploy-build", "--dry-run"], lumen_copy)
    assert result.returncode == 2
    assert "project.value_file is not a known key; did you mean 'values_file'?" in result.stderr


def test_a_missing_target_is_named_with_the_stages(compose_cli, lumen_copy):
    compose = lumen_copy / "docker-compose.prod-local.yml"
    compose.write_text(compose.read_text().replace("target: prod", "target: production", 1))
    result = polyarch(["prod-build", "--dry-run"], lumen_copy)
    assert result.returncode == 2 and "target 'production' is not a stage" in result.stderr and "base, dev, prod" in result.stderr


def test_rebuild_plans_just_the_named_services(compose_cli, lumen_copy):
    doc = json.loads(polyarch(["rebuild", "frontend", "--dry-run", "--json"], lumen_copy).stdout)
    assert [s["kind"] for s in doc["plan"]["steps"]] == ["ComposeRemove", "Build", "ComposeUp"]
    assert [i["name"] for i in doc["images"]] == ["client"]
    assert doc["plan"]["steps"][2]["services"] == ["frontend"]
    bad = polyarch(["rebuild", "frontnd", "--dry-run"], lumen_copy)
    assert bad.returncode == 2 and "did you mean 'frontend'" in bad.stderr


def test_dev_fresh_removes_the_stack_first_and_builds_without_cache(compose_cli, lumen_copy):
    doc = json.loads(polyarch(["dev", "--fresh", "--dry-run", "--json"], lumen_copy).stdout)
    steps = doc["plan"]["steps"]
    assert [s["kind"] for s in steps[:3]] == ["ComposeDown", "RemoveImages", "Build"]
    assert steps[0]["volumes"] is True and steps[2]["no_cache"] is True
    assert "lumen-chatbot" in steps[1]["refs"] and "lumen_chatbot:latest" in steps[1]["refs"]


def test_gha_cache_is_refused_outside_a_workflow_even_in_a_dry_run(compose_cli, lumen_copy):
    env = {k: "" for k in ("ACTIONS_RUNTIME_TOKEN", "ACTIONS_CACHE_URL", "ACTIONS_RESULTS_URL")}
    result = polyarch(["deploy-build", "--cache", "gha", "--dry-run", "--registry", "127.0.0.1:5000/x"], lumen_copy, **env)
    assert result.returncode == 2 and "--cache gha needs the GitHub Actions cache service" in result.stderr


def test_deploy_build_in_a_clean_checkout_needs_no_env_and_no_generated_values_file(compose_cli, lumen_copy):
    """A clone has neither .env nor the generated values file; a required variable outside build sections does not matter."""
    compose = lumen_copy / "docker-compose.prod-local.yml"
    compose.write_text(compose.read_text().replace("${POSTGRES_PASSWORD:-}", "${POSTGRES_PASSWORD:?set it in .env}"))
    (lumen_copy / "deploy/helm/lumen/values.generated.yaml").unlink()
    result = polyarch(["deploy-build", "--dry-run", "--registry", "127.0.0.1:5000/lumen", "--tag", "t1", "--builder", "b"],
                      lumen_copy, POSTGRES_PASSWORD="")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert "values.generated.yaml is not here" in text and "optional image terminal: skipped" in text
    assert "write image.tag" not in text
    # Without --registry the missing values file gives no registry: asked for, not a crash.
    result = polyarch(["deploy-build", "--dry-run", "--tag", "t1", "--builder", "b"], lumen_copy)
    assert result.returncode == 2 and "--registry" in result.stderr


def test_airtight_bundles_build_with_the_release_build_args(compose_cli, lumen_copy):
    """An airtight bundle is a release too: images.NAME.build_args apply to its builds, not only compose's args."""
    values = lumen_copy / "deploy/helm/lumen/values.generated.yaml"
    values.write_text(values.read_text().replace('  NEXT_PUBLIC_APP_NAME: "Lumen"', '  NEXT_PUBLIC_APP_NAME: "Lumen"\n  NEXT_PUBLIC_ONLY_IN_VALUES: "yes"'))
    result = polyarch(["package-airtight", "--dry-run", "--json", "--platform", "linux/amd64", "--version", "9"], lumen_copy)
    assert result.returncode == 0, result.stderr
    (build,) = [s for s in json.loads(result.stdout)["plan"]["steps"] if s["kind"] == "Build"]
    client = next(t for t in build["targets"] if t["name"] == "client")
    assert ["NEXT_PUBLIC_ONLY_IN_VALUES", "yes"] in client["args"]
    assert {"name": "NEXT_PUBLIC_ONLY_IN_VALUES", "source": "values config.NEXT_PUBLIC_"} in client["arg_sources"]
