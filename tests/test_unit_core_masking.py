"""Which keys and values are secret, and hiding them in plans and text (polyarch.core.masking)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyarch.core.masking import PLACEHOLDER, Secrets, looks_secret_key, looks_secret_value
from polyarch.planning.plans import Plan
from polyarch.planning.steps.build import BakeTarget, Build
from polyarch.planning.steps.compose import Compose, ComposeUp


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
