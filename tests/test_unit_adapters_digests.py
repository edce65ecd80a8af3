"""Digest files (polyarch.adapters.digests): round trip, and every bad or odd file refused by name, never echoed."""

from __future__ import annotations

import pytest

from polyarch.adapters.digests import read_digests, write_digest
from polyarch.core.errors import UsageError, VerificationError


D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64


def test_digest_files_round_trip(tmp_path):
    write_digest(tmp_path, "server", "linux/amd64", D1)
    write_digest(tmp_path, "server", "linux/arm64", D2)
    assert (tmp_path / "server" / "arm64").read_text() == D2 + "\n"
    assert read_digests(tmp_path, ("server",), ("linux/amd64", "linux/arm64")) == {"server": {"linux/amd64": D1, "linux/arm64": D2}}


def test_every_missing_or_malformed_digest_is_named_at_once(tmp_path):
    write_digest(tmp_path, "server", "linux/amd64", D1)
    (tmp_path / "frontend").mkdir()
    (tmp_path / "frontend" / "amd64").write_text("sha256:short\n")
    with pytest.raises(UsageError) as err:
        read_digests(tmp_path, ("server", "frontend"), ("linux/amd64", "linux/arm64"))
    text = err.value.message
    assert "server for linux/arm64" in text and "frontend for linux/amd64" in text and "frontend for linux/arm64" in text
    assert "nothing was pushed" in text


def test_unknown_image_folders_are_refused(tmp_path):
    (tmp_path / "mystery").mkdir()
    with pytest.raises(UsageError, match="mystery"):
        read_digests(tmp_path, ("server",), ("linux/amd64",))


def test_write_digest_refuses_garbage(tmp_path):
    with pytest.raises(VerificationError):
        write_digest(tmp_path, "server", "linux/amd64", "")
    assert not (tmp_path / "server" / "amd64").exists()


def test_a_digest_file_is_never_echoed(tmp_path):
    from polyarch.adapters.digests import read_digests
    from polyarch.core.errors import UsageError

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "amd64").write_text("API_TOKEN=super-secret-value\n")
    with pytest.raises(UsageError) as caught:
        read_digests(tmp_path, ("app",), ("linux/amd64",))
    assert "super-secret-value" not in caught.value.message
    assert "does not hold a sha256" in caught.value.message


def test_a_symlinked_digest_file_is_refused(tmp_path):
    from polyarch.adapters.digests import read_digests
    from polyarch.core.errors import UsageError

    secret = tmp_path / "secret"
    secret.write_text("sha256:" + "a" * 64)
    (tmp_path / "d" / "app").mkdir(parents=True)
    (tmp_path / "d" / "app" / "amd64").symlink_to(secret)
    with pytest.raises(UsageError, match="is a symlink"):
        read_digests(tmp_path / "d", ("app",), ("linux/amd64",))


def test_a_folder_where_a_digest_file_belongs_is_named_as_a_folder(tmp_path):
    from polyarch.adapters.digests import read_digests
    from polyarch.core.errors import UsageError

    (tmp_path / "app" / "amd64").mkdir(parents=True)
    with pytest.raises(UsageError, match="is a folder where a digest file was expected"):
        read_digests(tmp_path, ("app",), ("linux/amd64",))
