"""No secret leaves polyarch: every task's --json and text dry run, errors, and refused credentials,
on the adoption fixture with declared secrets of awkward shapes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_unit_core_masking import DECLARED, WORDS, leaks
from unit_helpers import REPO, compose_cli, edit_settings, fresh_console, run_invoke  # noqa: F401  (fixtures)

from polyarch.core.masking import PLACEHOLDER


LUMEN = REPO / "tests" / "fixtures" / "lumen"


# Every task with --json, with what it needs to plan offline.
JSON_TASKS = {
    "dev": ("--platform", "linux/amd64"),
    "build": ("--platform", "linux/amd64"),
    "rebuild": ("frontend", "--platform", "linux/amd64"),
    "prod-build": ("--platform", "linux/amd64"),
    "prod": ("--registry", "127.0.0.1:5000/lumen", "--version", "v1", "--platform", "linux/amd64"),
    "down": (),
    "clean": (),
    "nuke": (),
    "deploy-build": ("--registry", "127.0.0.1:5000/lumen", "--tag", "v1"),
    "publish-build": ("--platform", "linux/amd64", "--registry", "127.0.0.1:5000/lumen", "--digest-dir", "digests"),
    "package-airtight": ("--platform", "linux/amd64", "--version", "v1"),
    "prod-airtight": ("--no-start",),
    "init": (),
    "workflows": ("--output", "wf"),
}
BUILD_ARGS = ("POSTGRES_PASSWORD", "FLASK_SECRET_KEY", "AUTH_SECRET", *WORDS)


@pytest.fixture
def lumen(tmp_path, monkeypatch, fresh_console, compose_cli):
    """The fixture with a mixed .env, whose frontend gets every key above as a build arg (compose and publishing)."""
    root = tmp_path / "lumen"
    shutil.copytree(LUMEN, root)
    env = {**DECLARED, **WORDS, "FRONTEND_DEV_RUNTIME": "docker"}
    # Single quotes: compose and polyarch both take the value as it is.
    (root / ".env").write_text("".join(f"{k}='{v}'\n" for k, v in env.items()), encoding="utf-8")
    args = "".join(f"        {k}: ${{{k}}}\n" for k in BUILD_ARGS)
    dev = root / "docker-compose.yaml"
    dev.write_text(dev.read_text().replace("      context: ./client\n      dockerfile: Dockerfile\n      target: dev\n",
                                           "      context: ./client\n      dockerfile: Dockerfile\n      target: dev\n"
                                           "      args:\n" + args, 1))
    prod = root / "docker-compose.prod-local.yml"
    prod.write_text(prod.read_text().replace("      target: prod\n      args:\n", "      target: prod\n      args:\n" + args, 1))
    assert "FLASK_SECRET_KEY" in dev.read_text() and "FLASK_SECRET_KEY" in prod.read_text()
    edit_settings(root / "polyarch.toml", lambda data: data["images"]["client"]["build_args"].update(env=list(BUILD_ARGS)))
    monkeypatch.chdir(root)
    return root


def test_every_task_with_json_is_covered():
    import inspect

    from polyarch.cli.tasks import namespace

    ns = namespace()
    with_json = {name for name in ns.task_names if "json" in inspect.signature(ns[name].body).parameters}
    assert with_json == set(JSON_TASKS)


def _strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


@pytest.mark.parametrize("task", sorted(JSON_TASKS))
def test_every_json_plan_is_valid_json_with_words_intact_and_no_secret(lumen, capsys, task):
    code = run_invoke(task, *JSON_TASKS[task], "--dry-run", "--json")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    assert leaks(captured.out + captured.err) == []
    # The placeholder stands for a whole value, never for a word inside one (`hashicorp/***`, `***s`).
    assert [s for s in _strings(document) if PLACEHOLDER in s and s != PLACEHOLDER] == []
    if task in ("dev", "build", "rebuild", "prod-build", "deploy-build", "publish-build"):
        client = next(i for i in document["images"] if i["name"] == "client")
        assert {k: client["build_args"][k] for k in BUILD_ARGS} == {**dict.fromkeys(DECLARED, PLACEHOLDER), **WORDS}
    if document["third_party"]:
        assert "hashicorp/vault:1.15.4" in document["third_party"]


@pytest.mark.parametrize("task", ["build", "prod-build", "deploy-build", "package-airtight"])
def test_the_text_dry_run_hides_declared_build_args_in_the_bake_definition(lumen, capsys, task):
    code = run_invoke(task, *JSON_TASKS[task], "--dry-run", "--verbose")  # --verbose prints the bake definition
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert leaks(captured.out + captured.err) == []
    if task != "package-airtight":
        assert f'"FLASK_SECRET_KEY": "{PLACEHOLDER}"' in captured.err  # the short one, by its key
        assert '"STORAGE_ACCESS_KEY": "admin"' in captured.err and '"X_OAUTH": "false"' in captured.err
    assert "hashicorp/***" not in captured.err and "image***" not in captured.err


def test_a_declared_secret_in_the_environment_is_hidden_too(lumen, capsys, monkeypatch):
    """compose prefers the environment's value over .env's: that value is secret as well."""
    monkeypatch.setenv("AUTH_SECRET", "from-the-shell-7f3a9c")
    code = run_invoke("build", "--platform", "linux/amd64", "--dry-run", "--json")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "from-the-shell-7f3a9c" not in captured.out
    client = next(i for i in json.loads(captured.out)["images"] if i["name"] == "client")
    assert client["build_args"]["AUTH_SECRET"] == PLACEHOLDER


def test_an_engine_error_quoting_an_escaped_secret_hides_it(tmp_path, monkeypatch, capsys, fresh_console, compose_cli):
    """compose quotes a value it cannot parse with `"` and `\\` escaped; neither form is shown."""
    secret = 'ab"c\\d€${oops-very-secret-value'
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: busybox:1.36.1\n    environment:\n      X: ${DB_PW}\n")
    (tmp_path / "polyarch.toml").write_text('[project]\nsecrets = ["DB_PW"]\n')
    (tmp_path / ".env").write_text(f"DB_PW={secret}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = run_invoke("down", "--dry-run")
    captured = capsys.readouterr()
    assert code != 0 and "Invalid template" in captured.err
    assert leaks(captured.out + captured.err, (secret, "very-secret-value")) == []


@pytest.mark.parametrize("registry", ["user:pw-s3cret@127.0.0.1:5000/ns", "https://user:pw-s3cret@127.0.0.1:5000/ns"])
@pytest.mark.parametrize("task", [("deploy-build",), ("package-airtight", "--platform", "linux/amd64"),
                                  ("prod", "--version", "v1", "--platform", "linux/amd64")])
def test_credentials_in_registry_flag_are_refused_without_echoing_them(lumen, capsys, task, registry):
    code = run_invoke(*task, "--registry", registry, "--dry-run")
    captured = capsys.readouterr()
    assert code == 2
    assert "carries a user name or password" in captured.err and "docker login 127.0.0.1:5000" in captured.err
    assert "pw-s3cret" not in captured.out + captured.err and "user:" not in captured.err


@pytest.mark.parametrize("where", ["project.registry", "project.pull_registry", "workflows.registry"])
def test_credentials_in_polyarch_toml_registries_are_refused_before_anything(lumen, capsys, where):
    table, key = where.split(".")
    edit_settings(lumen / "polyarch.toml", lambda data: data.setdefault(table, {}).update({key: "bob:pw-s3cret@reg.example.com/team"}))
    code = run_invoke("down", "--dry-run")
    captured = capsys.readouterr()
    assert code == 2
    assert f"{where}: '***@reg.example.com/team' carries a user name or password" in captured.err
    assert "docker login reg.example.com" in captured.err and "pw-s3cret" not in captured.err + captured.out


@pytest.mark.parametrize("task", [("verify", "user:pw-s3cret@127.0.0.1:5000/ns/app:1"),
                                  ("deploy-build", "--cache", "user:pw-s3cret@127.0.0.1:5000/ns", "--dry-run")])
def test_credentials_in_verify_s_ref_or_in_cache_are_refused_without_echoing_them(lumen, capsys, task):
    code = run_invoke(*task)
    captured = capsys.readouterr()
    assert code == 2
    assert "***@127.0.0.1:5000/ns" in captured.err
    assert "pw-s3cret" not in captured.out + captured.err and "user:" not in captured.err


def test_credentials_in_workflows_cache_are_refused_without_echoing_them(lumen, capsys):
    edit_settings(lumen / "polyarch.toml", lambda data: data.setdefault("workflows", {}).update({"cache": "bob:pw-s3cret@reg.example.com/c"}))
    code = run_invoke("down", "--dry-run")
    captured = capsys.readouterr()
    assert code == 2
    assert "workflows.cache" in captured.err and "***@reg.example.com/c" in captured.err
    assert "pw-s3cret" not in captured.err + captured.out


def test_credentials_in_the_values_file_registry_are_refused(lumen, capsys):
    values = lumen / "deploy/helm/lumen/values.generated.yaml"
    values.write_text(values.read_text().replace("registry: your-registry", "registry: bob:pw-s3cret@reg.example.com/team"))
    code = run_invoke("deploy-build", "--dry-run")
    captured = capsys.readouterr()
    assert code == 2
    assert "image.registry in the values file" in captured.err and "carries a user name or password" in captured.err
    assert "pw-s3cret" not in captured.err + captured.out


def test_the_text_dry_run_names_each_build_arg_s_source_even_for_a_secret_one(lumen, capsys):
    code = run_invoke("deploy-build", *JSON_TASKS["deploy-build"], "--dry-run")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert leaks(captured.out + captured.err) == []
    (client,) = [line for line in captured.err.splitlines() if line.strip().startswith("- client:")]
    for key in BUILD_ARGS:
        assert f"{key} (.env)" in client


def test_a_secret_that_breaks_compose_is_not_quoted_back(tmp_path, compose_cli):
    """compose quotes a `.env` value with `${` in its error; polyarch passes the error on without the value."""
    import subprocess
    import sys
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: busybox:1.36.1\n    environment:\n      X: ${API_TOKEN}\n")
    (tmp_path / ".env").write_text("API_TOKEN=abc${oops-very-secret-value\n")
    env = dict(os.environ, NO_COLOR="1")
    env.pop("POLYARCH_STACK", None)
    result = subprocess.run([str(Path(sys.executable).parent / "polyarch"), "down", "--dry-run"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "Invalid template" in result.stderr
    assert "very-secret-value" not in result.stderr + result.stdout
