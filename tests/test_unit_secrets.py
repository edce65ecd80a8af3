"""Secrets hidden by key in a plan's data, and every --json plan valid JSON.

The rules are pure (polyarch.core.masking); the task runs use the adoption fixture
(tests/fixtures/lumen) in-process, with a `.env` that holds ordinary words
(`admin`, `false`, `image`, ...) under secret-looking keys next to real
secrets, as after `cp .env.example .env` in a real project. Reading the stack
runs `docker compose config` (the CLI's compose plugin, no engine).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from polyarch.core.masking import PLACEHOLDER, Secrets, looks_secret_key, looks_secret_value
from polyarch.planning.steps.build import BakeTarget, Build
from polyarch.planning.steps.compose import Compose, ComposeUp
from polyarch.planning.plans import Plan
from unit_helpers import REPO, compose_cli, copy_repo_stack, edit_settings, fresh_console, run_invoke  # noqa: F401  (fixtures)

LUMEN = REPO / "tests" / "fixtures" / "lumen"
# Declared in the fixture's polyarch.toml: one with `"`, `\` and non-ASCII, a short one, a usual one.
ODD = 'pa"ss\\wörd-€9x'
SHORT = "x9"
HEX = "5f1e0c7d9a2b4c6e8f1a3b5c7d9e0f21"
DECLARED = {"POSTGRES_PASSWORD": ODD, "FLASK_SECRET_KEY": SHORT, "AUTH_SECRET": HEX}
# Ordinary words under secret-looking keys: not secrets, so shown as they are.
WORDS = {"STORAGE_ACCESS_KEY": "admin", "SECRETS_BACKEND": "vault", "X_OAUTH": "false", "SENTRY_AUTH": "true",
         "DB_PASSWORD": "image", "API_KEY": "1"}


def forms(value: str) -> set[str]:
    """Every way a value can be written out: as it is, and JSON-escaped with or without \\u escapes."""
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def leaks(text: str, values=(ODD, HEX)) -> list[str]:
    return [form for value in values for form in forms(value) if form in text]


# --- which values are secret ------------------------------------------------------


@pytest.mark.parametrize("key, secret", [
    ("DB_PASSWORD", True), ("STORAGE_ACCESS_KEY", True), ("X_OAUTH", True), ("SECRETS_BACKEND", True),
    ("API_TOKEN", True), ("apikey", True), ("GCP_CREDENTIALS", True), ("SSH_PRIVATE_FILE", True),
    ("KEYCLOAK_URL", False), ("AUTHOR", False), ("PWD", False), ("API_PORT", False), ("FRONTEND_URL", False),
    ("auth-api:1", False), ("org.example.token", False), ("config.SECRET_KEY", False),
    # Short forms real projects use (awesome-compose's postgresql-pgadmin: POSTGRES_PW), not inside other words.
    ("POSTGRES_PW", True), ("DB_PASS", True), ("BYPASS_CACHE", False), ("COMPASS_URL", False), ("PWA_NAME", False),
])
def test_which_keys_look_secret(key, secret):
    assert looks_secret_key(key) is secret


@pytest.mark.parametrize("value, secret", [
    ("true", False), ("false", False), ("admin", False), ("1", False), ("image", False), ("vault", False),
    ("postgres", False), ("minioadmin", False), ("read-only", False), ("5432", False), ("3.14", False), ("x9", False),
    ("hunter22", True), ("tok-123456", True), (HEX, True), (ODD, True), ("correcthorsebatterystaple", True),
    ("http://keycloak:8080/auth", True),
])
def test_which_values_look_secret(value, secret):
    assert looks_secret_value(value) is secret


def test_a_secret_is_decided_by_its_key_then_its_value():
    secrets = Secrets.from_env({**DECLARED, **WORDS, "PLAIN_NOTE": "a" * 30, "EMPTY_SECRET": ""},
                               ("POSTGRES_PASSWORD", "FLASK_SECRET_KEY", "AUTH_SECRET", "EMPTY_SECRET"))
    assert {k for k, _ in secrets.pairs} == set(DECLARED)  # declared, whatever the value; never the words
    assert secrets.hides("FLASK_SECRET_KEY", SHORT) and not secrets.hides("DB_PASSWORD", "image")
    assert secrets.hides("NPM_TOKEN", "npm_A1b2C3d4") and not secrets.hides("PLAIN_NOTE", "a" * 30)


def _plan() -> Plan:
    target = BakeTarget("api", Path("/p/api"), Path("/p/api/Dockerfile"), "prod", ("linux/amd64",), ("api:dev",),
                        args=(("FLASK_SECRET_KEY", SHORT), ("DB_PASS", ODD), ("STORAGE_ACCESS_KEY", "admin"),
                              ("NPM_TOKEN", "npm_A1b2C3d4"), ("X_OAUTH", "false")),
                        labels=(("org.opencontainers.image.title", "api"),))
    compose = Compose("p", (Path("/p/compose.yaml"),), variables=(("DOCKER_DEFAULT_PLATFORM", "linux/amd64"),))
    return Plan(f"build with {HEX} inside the title", (Build((target,), load=True), ComposeUp(compose)), notes=("image vault admin",))


def test_a_plan_is_masked_as_data_and_the_real_one_keeps_its_values():
    secrets = Secrets.from_env({**DECLARED, **WORDS}, DECLARED)
    real = _plan()
    shown = secrets.mask(real)
    args = dict(shown.steps[0].targets[0].args)
    # By key (even the short one), as a declared value under another key, and a token-looking build arg by its own name.
    assert args == {"FLASK_SECRET_KEY": PLACEHOLDER, "DB_PASS": PLACEHOLDER, "STORAGE_ACCESS_KEY": "admin",
                    "NPM_TOKEN": PLACEHOLDER, "X_OAUTH": "false"}
    assert shown.title == f"build with {PLACEHOLDER} inside the title"
    assert shown.notes == ("image vault admin",) and shown.steps[1] == real.steps[1]
    assert "org.opencontainers.image.title" in shown.steps[0].definition_json()
    # The plan that runs is untouched: buildx gets the real values.
    assert dict(real.steps[0].targets[0].args)["DB_PASS"] == ODD
    assert real.steps[0].definition()["target"]["api"]["args"]["FLASK_SECRET_KEY"] == SHORT


def test_the_text_filter_never_touches_short_or_common_values():
    secrets = Secrets.from_env({**DECLARED, **WORDS}, DECLARED)
    text = '"provenance": false, "load": true, hashicorp/vault:1.15 admin image 1 x9 org.opencontainers.image.title'
    assert secrets.mask_text(text) == text
    assert secrets.mask_json_text(text) == text


def test_the_text_filter_hides_a_short_declared_secret_after_its_key_only():
    secrets = Secrets.from_env(DECLARED, DECLARED)
    message = 'compose: FLASK_SECRET_KEY=x9 is invalid; "FLASK_SECRET_KEY": "x9"; x9 stays elsewhere, FLASK_SECRET_KEY=x99'
    assert secrets.mask_text(message) == ('compose: FLASK_SECRET_KEY=*** is invalid; "FLASK_SECRET_KEY": "***"; '
                                          'x9 stays elsewhere, FLASK_SECRET_KEY=x99')


@pytest.mark.parametrize("ascii_only", [True, False])
def test_escaped_secrets_are_hidden_in_json_text_which_stays_valid(ascii_only):
    secrets = Secrets.from_env(DECLARED, DECLARED)
    document = {"note": f"value {ODD} and {HEX}", ODD: [HEX], "n": 1, "path": "C:\\pa\"ss\\wörd-€9x"}
    text = secrets.mask_json_text(json.dumps(document, ensure_ascii=ascii_only))
    assert leaks(text) == []
    assert json.loads(text) == {"note": "value *** and ***", "***": ["***"], "n": 1, "path": "C:\\***"}


def test_the_json_filter_never_cuts_an_escape_in_half():
    secrets = Secrets.from_env({"API_TOKEN": "u00e9-secret-1"}, ())
    # The text holds a backslash followed by the secret: hiding it must not leave a lone backslash.
    text = json.dumps({"a": "\\u00e9-secret-1"})
    assert json.loads(secrets.mask_json_text(text)) == {"a": "\\***"}


# --- every --json plan, and the text plans, of the adoption fixture ------------------------

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


def test_secrets_init_generates_are_hidden_at_once(tmp_path, monkeypatch, fresh_console, compose_cli):
    """`dev` runs init after reading the stack: the fresh secrets are hidden from compose's output too."""
    from polyarch.core import console
    from polyarch.model.envfile import read_env
    from polyarch.model.loading import load_stack
    from polyarch.cli.tasks.devloop import run_init

    stack = load_stack(str(copy_repo_stack(tmp_path / "project")))
    monkeypatch.setattr(console, "_secrets", Secrets())
    run_init(stack)
    token = read_env(stack.env_file)["API_TOKEN"]
    assert console.redact(f"compose said {token}") == "compose said ***"


# --- credentials in a registry reference ------------------------------------------------


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
