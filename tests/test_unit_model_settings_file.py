"""Reading polyarch.toml (polyarch.model.settings_file): every mistake refused by key, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyarch.core.errors import StackError
from polyarch.model.settings_file import parse_settings


def test_a_default_url_with_an_impossible_port_is_refused():
    from polyarch.core.errors import StackError
    from polyarch.model.settings_file import parse_settings

    with pytest.raises(StackError, match=r"project.urls: API: the port is not a number from 1 to 65535 in 'http://127.0.0.1:99999/healthz'"):
        parse_settings({"project": {"urls": {"API": ["API_URL", "http://127.0.0.1:99999/healthz"]}}}, Path("polyarch.toml"))
    with pytest.raises(StackError, match=r"project.urls: API: 'API URL' is not a valid variable name"):
        parse_settings({"project": {"urls": {"API": ["API URL", "http://127.0.0.1:5080"]}}}, Path("polyarch.toml"))


def test_names_with_a_trailing_line_break_are_refused():
    from polyarch.core.errors import StackError
    from polyarch.model.settings_file import parse_settings

    with pytest.raises(StackError) as caught:
        parse_settings({"images": {"app": {"repository": "acme\n"}}, "workflows": {"registry": "ghcr.io/team\n"}},
                       Path("polyarch.toml"))
    assert "images.app.repository" in caught.value.message and "workflows.registry" in caught.value.message


def test_env_keys_that_init_would_write_must_be_variable_names():
    """A line break in a key would make init write a line of the attacker's choosing into .env."""
    from polyarch.core.errors import StackError
    from polyarch.model.settings_file import parse_settings

    data = {"project": {"secrets": ["API_TOKEN\nDEBUG=1"], "required": ["A B"]},
            "modes": {"dev": {"files": ["compose.yaml"], "overlay": {"key": "X=1", "value": "y", "files": ["o.yaml"]}}}}
    with pytest.raises(StackError) as caught:
        parse_settings(data, Path("polyarch.toml"))
    for key in ("project.secrets", "project.required", "modes.dev.overlay.key"):
        assert key in caught.value.message


@pytest.mark.parametrize("data, message", [
    ({"project": {"registy": "x"}}, "project.registy is not a known key; did you mean 'registry'?"),
    ({"project": {"value_file": "v.yaml"}}, "did you mean 'values_file'?"),
    ({"images": {"app": {"build_arg": {}}}}, "did you mean 'build_args'?"),
    ({"modes": {"dev": {"files": []}}}, "modes.dev.files"),
    ({"project": {"platforms": "linux/amd64"}}, "project.platforms"),
    ({"images": {"app": {"repository": "Front End"}}}, "'Front End' is not a valid repository name"),
    ({"optional": {"t": {"context": "x", "enabled_by": "config.FLAG"}}}, "must be 'values:KEY.PATH' or 'env:KEY'"),
    ({"project": {"name": "My App"}}, "project.name"),
    ({"stack": {}}, "stack is not a known key"),
])
def test_description_mistakes_are_refused_before_anything_runs(data, message):
    with pytest.raises(StackError) as caught:
        parse_settings(data, Path("polyarch.toml"))
    assert message in caught.value.message


def test_every_problem_is_listed_at_once():
    with pytest.raises(StackError) as caught:
        parse_settings({"project": {"registy": "x", "secrets": "A"}}, Path("polyarch.toml"))
    assert "2 problems" in caught.value.message


def test_signing_and_attestation_tables_parse_with_their_defaults():
    settings = parse_settings({"signing": {"key": "k", "public_key": "k.pub", "keyless": True},
                               "attestations": {"sbom": True}}, Path("polyarch.toml"))
    assert (settings.signing.key, settings.signing.public_key, settings.signing.keyless) == ("k", "k.pub", True)
    assert (settings.attestations.provenance, settings.attestations.sbom) == (True, True)
    plain = parse_settings({}, Path("polyarch.toml"))
    assert (plain.signing.key, plain.signing.keyless, plain.attestations.provenance, plain.attestations.sbom) == (None, False, True, False)


@pytest.mark.parametrize(("table", "message"), [
    ({"signing": {"public_keys": "k.pub"}}, "signing.public_keys is not a known key; did you mean 'public_key'?"),
    ({"signing": {"key": " "}}, "signing.key: must name a key file"),
    ({"attestations": {"sbom": "yes"}}, "attestations.sbom"),
])
def test_bad_signing_settings_are_refused_by_name(table, message):
    with pytest.raises(StackError, match=message.replace("?", r"\?").replace("(", r"\(")):
        parse_settings(table, Path("polyarch.toml"))
