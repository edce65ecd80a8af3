"""The .env file (polyarch.model.envfile): parsing, rewriting in place, init with fresh secrets, private atomic writes."""

from __future__ import annotations

import os
import re

import pytest
from unit_helpers import REPO, mode_of

from polyarch.adapters import files as atomic
from polyarch.core.errors import EnvFileError
from polyarch.model import envfile
from polyarch.model.envfile import (
    init_env, missing_required, new_secret, parse_env, read_env, set_values, write_private
)


HEX64 = re.compile(r"^[0-9a-f]{64}$")
SECRETS = ("SECRET_KEY", "API_TOKEN", "WORKER_SHARED_SECRET")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("A=1", {"A": "1"}),
        ("A=1\nB=two\n", {"A": "1", "B": "two"}),
        ("# A=1\nB=2", {"B": "2"}),
        ("   # indented comment=1\nB=2", {"B": "2"}),
        ("\n\n  \nA=1\n\n", {"A": "1"}),
        ("A=", {"A": ""}),
        ("A=  spaced value  ", {"A": "spaced value"}),
        ("  A = 1", {"A": "1"}),
        ('A="quoted value"', {"A": "quoted value"}),
        ("A='single quoted'", {"A": "single quoted"}),
        ('A="has # hash"', {"A": "has # hash"}),
        ("A=value # trailing comment", {"A": "value"}),
        ('A="quoted" # trailing comment', {"A": "quoted"}),
        ("A='it # is'   # comment", {"A": "it # is"}),
        ('A="a" # "b"', {"A": "a"}),
        ("A=value#not-a-comment", {"A": "value#not-a-comment"}),
        ("A=b=c", {"A": "b=c"}),
        ("A=http://x:1/p?q=1", {"A": "http://x:1/p?q=1"}),
        ("export A=1", {"A": "1"}),
        ("export   A=1\nexport B='x y'", {"A": "1", "B": "x y"}),
        ("A=1\nA=2", {"A": "2"}),
        ("A=1\nA=", {"A": ""}),
        ("not a line\nA=1\n=3\n1B=2", {"A": "1"}),
        ("_UNDER=1\nlower_case=2", {"_UNDER": "1", "lower_case": "2"}),
        ('A=""', {"A": ""}),
        ('A="', {"A": '"'}),
        ("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}),
    ],
)
def test_parse_env(text, expected):
    assert parse_env(text) == expected


def test_parse_env_reads_the_repo_example():
    values = parse_env((REPO / ".env.example").read_text())
    for key in SECRETS:
        assert values[key] == ""
    assert values["API_PORT"] == "5080"
    assert values["FRONTEND_URL"] == "http://127.0.0.1:3000"


def test_read_env_absent_file_is_empty(tmp_path):
    assert read_env(tmp_path / ".env") == {}


@pytest.mark.parametrize(
    ("text", "updates", "expected"),
    [
        ("A=1\n", {"A": "2"}, "A=2\n"),
        ("A=1\n", {}, "A=1\n"),
        ("", {"A": "1"}, "A=1\n"),
        ("A=1", {"B": "2"}, "A=1\nB=2\n"),
        ("# head\nA=\n\n# mid\nB=keep\n", {"A": "x"}, "# head\nA=x\n\n# mid\nB=keep\n"),
        ("A=1\nB=2\nC=3\n", {"C": "z", "A": "y"}, "A=y\nB=2\nC=z\n"),
        ("A=1\n", {"A": "2", "NEW": "n", "OTHER": "o"}, "A=2\nNEW=n\nOTHER=o\n"),
        # a commented-out assignment is a comment: kept, and the key is appended
        ("# A=old\n", {"A": "new"}, "# A=old\nA=new\n"),
        ("export A=1\n", {"A": "2"}, "A=2\n"),
        ("  A = 1\n", {"A": "2"}, "A=2\n"),
    ],
)
def test_set_values(text, updates, expected):
    assert set_values(text, updates) == expected


def test_set_values_result_parses_to_the_updates():
    text = "# c\nA=1\nB=\nexport C='x'\n"
    updated = set_values(text, {"B": "b", "D": "d"})
    assert parse_env(updated) == {"A": "1", "B": "b", "C": "x", "D": "d"}


def test_set_values_on_a_key_listed_twice_takes_effect():
    """parse_env lets the last line win, so every line for the key must change."""
    updated = set_values("A=\n# note\nA=\n", {"A": "filled"})
    assert parse_env(updated) == {"A": "filled"}
    assert "# note" in updated


@pytest.mark.parametrize("umask", [0o022, 0o000, 0o077])
def test_write_private_creates_mode_0600_whatever_the_umask(tmp_path, umask):
    target = tmp_path / ".env"
    old = os.umask(umask)
    try:
        write_private(target, "A=1\n")
    finally:
        os.umask(old)
    assert target.read_text() == "A=1\n"
    assert mode_of(target) == 0o600


def test_write_private_replaces_content_and_tightens_mode(tmp_path):
    target = tmp_path / ".env"
    target.write_text("OLD=1\n")
    target.chmod(0o644)
    write_private(target, "NEW=2\n")
    assert target.read_text() == "NEW=2\n"
    assert mode_of(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_write_private_failure_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch, failing):
    target = tmp_path / ".env"
    target.write_text("OLD=keep\n")
    target.chmod(0o600)

    def boom(*args, **kwargs):
        raise OSError(f"simulated {failing} failure")

    monkeypatch.setattr(atomic.os, failing, boom)
    with pytest.raises(OSError, match=f"simulated {failing}"):
        write_private(target, "NEW=lost\n")
    monkeypatch.undo()
    assert target.read_text() == "OLD=keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def test_write_private_failure_on_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("simulated")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError):
        write_private(tmp_path / ".env", "A=1\n")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_write_private_interrupted_cleans_up(tmp_path, monkeypatch):
    target = tmp_path / ".env"
    target.write_text("OLD=keep\n")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_private(target, "NEW=lost\n")
    monkeypatch.undo()
    assert target.read_text() == "OLD=keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def test_new_secret_is_64_hex_chars_and_fresh():
    values = {new_secret() for _ in range(20)}
    assert len(values) == 20
    assert all(HEX64.match(v) for v in values)


@pytest.fixture
def example(tmp_path):
    path = tmp_path / ".env.example"
    path.write_text((REPO / ".env.example").read_text())
    return path


def test_init_creates_from_example_with_private_mode(tmp_path, example):
    env = tmp_path / ".env"
    result = init_env(env, example, SECRETS)
    assert env.is_file()
    assert mode_of(env) == 0o600
    assert result.created is True
    assert result.copied_from == example
    assert result.filled == SECRETS
    assert result.kept == ()
    values = read_env(env)
    generated = [values[k] for k in SECRETS]
    assert all(HEX64.match(v) for v in generated)
    assert len(set(generated)) == len(generated)
    # everything else comes over from the example unchanged, comments included
    assert values["API_PORT"] == "5080" and values["API_URL"] == "http://127.0.0.1:5080/healthz"
    example_lines = example.read_text().splitlines()
    env_lines = env.read_text().splitlines()
    assert len(env_lines) == len(example_lines)
    for before, after in zip(example_lines, env_lines):
        if not any(before.startswith(f"{k}=") for k in SECRETS):
            assert before == after
    # the example itself is untouched
    assert parse_env(example.read_text())["SECRET_KEY"] == ""


def test_init_result_carries_no_secret_value(tmp_path, example):
    env = tmp_path / ".env"
    result = init_env(env, example, SECRETS)
    secrets = [read_env(env)[k] for k in SECRETS]
    assert not any(s in repr(result) for s in secrets)


def test_init_without_example_creates_only_secrets(tmp_path):
    env = tmp_path / ".env"
    result = init_env(env, tmp_path / "missing.example", ("A", "B"))
    assert result.created and result.copied_from is None
    assert sorted(read_env(env)) == ["A", "B"]
    assert mode_of(env) == 0o600


def test_init_fills_only_empty_secrets_and_keeps_user_values(tmp_path, example):
    env = tmp_path / ".env"
    env.write_text("# mine\nSECRET_KEY=my-own-key\nAPI_TOKEN=\nAPI_PORT=9999\n")
    env.chmod(0o600)
    result = init_env(env, example, SECRETS)
    values = read_env(env)
    assert result.created is False and result.copied_from is None
    assert result.filled == ("API_TOKEN", "WORKER_SHARED_SECRET")
    assert result.kept == ("SECRET_KEY",)
    assert values["SECRET_KEY"] == "my-own-key"
    assert values["API_PORT"] == "9999"
    assert HEX64.match(values["API_TOKEN"]) and HEX64.match(values["WORKER_SHARED_SECRET"])
    assert env.read_text().startswith("# mine\nSECRET_KEY=my-own-key\nAPI_TOKEN=")
    assert mode_of(env) == 0o600


def test_init_is_idempotent(tmp_path, example):
    env = tmp_path / ".env"
    init_env(env, example, SECRETS)
    first = env.read_text()
    result = init_env(env, example, SECRETS)
    assert env.read_text() == first
    assert result.filled == () and result.kept == SECRETS and result.created is False


def test_init_leaves_a_complete_private_file_alone(tmp_path, example, monkeypatch):
    env = tmp_path / ".env"
    init_env(env, example, SECRETS)
    calls = []
    monkeypatch.setattr(envfile, "write_private", lambda *a: calls.append(a))
    init_env(env, example, SECRETS)
    assert calls == []


def test_init_force_regenerates_every_secret(tmp_path, example):
    env = tmp_path / ".env"
    env.write_text("SECRET_KEY=mine\nAPI_TOKEN=tok\nWORKER_SHARED_SECRET=w\nOTHER=x\n")
    result = init_env(env, example, SECRETS, force=True)
    values = read_env(env)
    assert result.filled == SECRETS and result.kept == ()
    assert values["SECRET_KEY"] != "mine" and values["API_TOKEN"] != "tok" and values["WORKER_SHARED_SECRET"] != "w"
    assert all(HEX64.match(values[k]) for k in SECRETS)
    assert values["OTHER"] == "x"


def test_init_force_twice_gives_new_values(tmp_path, example):
    env = tmp_path / ".env"
    init_env(env, example, SECRETS)
    before = read_env(env)
    init_env(env, example, SECRETS, force=True)
    after = read_env(env)
    assert all(before[k] != after[k] for k in SECRETS)


@pytest.mark.parametrize("loose_mode", [0o644, 0o666, 0o640, 0o700])
def test_init_fixes_the_mode_of_a_complete_file(tmp_path, example, loose_mode):
    env = tmp_path / ".env"
    env.write_text("SECRET_KEY=a\nAPI_TOKEN=b\nWORKER_SHARED_SECRET=c\n")
    env.chmod(loose_mode)
    result = init_env(env, example, SECRETS)
    assert mode_of(env) == 0o600
    assert result.filled == ()
    assert read_env(env) == {"SECRET_KEY": "a", "API_TOKEN": "b", "WORKER_SHARED_SECRET": "c"}


def test_init_fills_a_secret_listed_twice(tmp_path, example):
    env = tmp_path / ".env"
    env.write_text("SECRET_KEY=\nAPI_TOKEN=t\nWORKER_SHARED_SECRET=w\nSECRET_KEY=\n")
    result = init_env(env, example, SECRETS)
    assert result.filled == ("SECRET_KEY",)
    assert HEX64.match(read_env(env)["SECRET_KEY"])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, ("SECRET_KEY", "API_TOKEN")),
        ("", ("SECRET_KEY", "API_TOKEN")),
        ("SECRET_KEY=\nAPI_TOKEN=\n", ("SECRET_KEY", "API_TOKEN")),
        ("SECRET_KEY=s\nAPI_TOKEN=\n", ("API_TOKEN",)),
        ("SECRET_KEY=s\n", ("API_TOKEN",)),
        ("# API_TOKEN=t\nSECRET_KEY=s\n", ("API_TOKEN",)),
        ("SECRET_KEY=s\nAPI_TOKEN=t\n", ()),
        ("SECRET_KEY=s\nAPI_TOKEN=t\nAPI_TOKEN=\n", ("API_TOKEN",)),
        ('SECRET_KEY=""\nAPI_TOKEN=t\n', ("SECRET_KEY",)),
    ],
)
def test_missing_required(tmp_path, content, expected):
    env = tmp_path / ".env"
    if content is not None:
        env.write_text(content)
    assert missing_required(env, ("SECRET_KEY", "API_TOKEN")) == expected


def test_a_file_another_run_created_after_the_plan_keeps_its_secrets(tmp_path):
    """Two inits (or two `dev`s on a fresh clone) at once: the second waits for the lock, then must not replace the first's secrets."""
    from polyarch.model.envfile import apply_init, preview_init, read_env

    env_file, example = tmp_path / ".env", tmp_path / ".env.example"
    example.write_text("SECRET_KEY=\nAPI_TOKEN=\n")
    planned = preview_init(env_file, example, ("SECRET_KEY", "API_TOKEN"))
    assert planned.created and planned.filled == ("SECRET_KEY", "API_TOKEN")
    env_file.write_text("SECRET_KEY=first-run-secret-0123456789\nAPI_TOKEN=\n")  # the other run, meanwhile
    done = apply_init(env_file, planned)
    values = read_env(env_file)
    assert values["SECRET_KEY"] == "first-run-secret-0123456789"
    assert len(values["API_TOKEN"]) >= 32
    assert not done.created and done.filled == ("API_TOKEN",) and "SECRET_KEY" in done.kept


def test_an_env_file_that_is_a_folder_is_a_clear_error(tmp_path):
    from polyarch.model.envfile import read_env

    (tmp_path / ".env").mkdir()
    with pytest.raises(EnvFileError, match="is not a file"):
        read_env(tmp_path / ".env")


def test_an_env_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    from polyarch.model.envfile import read_env

    (tmp_path / ".env").write_bytes(b"KEY=\xff\xfe\n")
    with pytest.raises(EnvFileError, match="not UTF-8"):
        read_env(tmp_path / ".env")


def test_init_on_a_full_disk_is_a_clear_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    """The disk-full error is injected (a stand-in writer that raises ENOSPC): filling a real disk is not practical here."""
    import errno

    import polyarch.model.envfile as envfile

    env = tmp_path / ".env"
    env.write_text("SECRET_KEY=\n")
    env.chmod(0o600)

    def full(path, text, mode=None):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(envfile, "write_atomic", full)
    with pytest.raises(EnvFileError, match="No space left on device"):
        envfile.init_env(env, tmp_path / ".env.example", ("SECRET_KEY",))
    assert env.read_text() == "SECRET_KEY=\n"
