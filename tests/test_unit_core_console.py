"""The terminal (polyarch.core.console): secrets and control sequences never reach it, tables wrap."""

from __future__ import annotations

import pytest
from unit_helpers import fresh_console  # noqa: F401  (fixtures)

from polyarch.core import console


@pytest.fixture
def clean_secrets(monkeypatch):
    from polyarch.core.masking import Secrets

    monkeypatch.setattr(console, "_secrets", Secrets())


def test_env_secrets_never_reach_the_terminal(clean_secrets):
    console.hide_secrets({"API_TOKEN": "tok-123456", "PORT": "5080", "EMPTY": ""}, ())
    text = console.redact("compose said: invalid template tok-123456 on port 5080")
    assert "tok-123456" not in text
    assert "port 5080" in text  # short ordinary values stay readable


def test_a_value_is_secret_by_its_key_not_by_its_length(clean_secrets):
    """A long URL under an ordinary key is shown; under a secret-looking key it is not."""
    console.hide_secrets({"FRONTEND_URL": "http://127.0.0.1:3000/app", "HOOK_URL": "https://hooks.example.com/T0/B0/xyz",
                          "AUTH_TOKEN_URL": "https://example.com/with-a-token-inside"}, ())
    text = console.redact("open http://127.0.0.1:3000/app; hook https://hooks.example.com/T0/B0/xyz; https://example.com/with-a-token-inside")
    assert text == "open http://127.0.0.1:3000/app; hook https://hooks.example.com/T0/B0/xyz; ***"


def test_listed_secret_keys_are_hidden_whatever_their_name(clean_secrets):
    console.hide_secrets({"DB_PW": "hunter22"}, ("DB_PW",))
    assert console.redact("password hunter22") == "password ***"


def test_terminal_control_sequences_are_removed(clean_secrets):
    assert console.redact("\x1b[31mred\x1b[0m \x1b]0;title\x07 bell\x07 ok\n") == "red  bell ok\n"


LONG_REF = "127.0.0.1:5000/a-rather-long-team-namespace/and-an-even-longer-repository-name:0123456789abcdef"


def test_a_table_wraps_a_long_reference_in_a_narrow_terminal(fresh_console, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "50")
    console.err.cache_clear()
    console.table("Published", ("image", "tag", "platforms"), [("server", LONG_REF, "linux/amd64, linux/arm64")])
    lines = capsys.readouterr().err.splitlines()
    assert max(len(line) for line in lines) <= 50
    cells = [line.split("│")[2].strip() for line in lines if line.count("│") == 4]
    assert "".join(cells) == LONG_REF
