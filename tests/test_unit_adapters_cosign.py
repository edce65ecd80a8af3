"""The cosign command lines polyarch runs (polyarch.adapters.cosign), and what the user reads when cosign fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyarch.adapters import cosign
from polyarch.core.errors import SignatureError


PASSWORD = "pw-that-must-never-show-up-0123456789"


def test_key_pair_signing_skips_the_transparency_log_and_speaks_http_to_a_loopback_registry():
    args = cosign.sign_image_args("127.0.0.1:5000/ns/app@sha256:ab", Path("k.key"))
    assert args == ["sign", "--yes", "--key", "k.key", "--tlog-upload=false", "--allow-http-registry",
                    "127.0.0.1:5000/ns/app@sha256:ab"]
    assert cosign.verify_image_args("localhost:5000/app:1", Path("k.pub")) == [
        "verify", "--key", "k.pub", "--insecure-ignore-tlog", "--allow-http-registry", "--output", "json", "localhost:5000/app:1"]


def test_a_remote_registry_gets_https_and_keyless_signing_keeps_the_transparency_log():
    assert cosign.sign_image_args("ghcr.io/acme/app@sha256:ab", None) == ["sign", "--yes", "ghcr.io/acme/app@sha256:ab"]
    assert "--allow-http-registry" not in cosign.verify_image_args("registry.example.com:5000/app:1", Path("k.pub"))


def test_blob_signing_is_offline():
    assert cosign.sign_blob_args(Path("b.tar.gz"), Path("k.key"), Path("b.tar.gz.sig")) == [
        "sign-blob", "--yes", "--key", "k.key", "--tlog-upload=false", "--output-signature", "b.tar.gz.sig", "b.tar.gz"]
    assert cosign.verify_blob_args(Path("b.tar.gz"), Path("k.pub"), Path("b.tar.gz.sig")) == [
        "verify-blob", "--key", "k.pub", "--insecure-ignore-tlog", "--signature", "b.tar.gz.sig", "b.tar.gz"]


def test_no_password_ever_reaches_cosign_s_command_line(monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    every = (cosign.sign_image_args("127.0.0.1:5000/a@sha256:1", Path("k")) + cosign.sign_blob_args(Path("b"), Path("k"), Path("s"))
             + cosign.verify_image_args("a:1", Path("p")) + cosign.verify_blob_args(Path("b"), Path("p"), Path("s")))
    assert not any(PASSWORD in arg or "password" in arg.lower() for arg in every)


@pytest.mark.parametrize(("stderr", "reason"), [
    ("WARNING: Skipping tlog verification\nError: no signatures found\nerror during command execution: no signatures found\n",
     "no signatures found"),
    ("Error: signing b: reading key: decrypt: encrypted: decryption failed\n", "signing b: reading key: decrypt: encrypted: decryption failed"),
    ("", "no output"),
])
def test_cosign_s_own_error_line_is_what_the_user_reads(stderr, reason):
    assert cosign.reason(stderr) == reason


def test_a_missing_cosign_is_named_with_how_to_install_it(monkeypatch):
    monkeypatch.setattr(cosign.shutil, "which", lambda name: None)
    with pytest.raises(SignatureError, match="cosign is not installed") as caught:
        cosign.verify_blob(Path("b"), Path("p"), Path("s"))
    assert "apt-get install cosign" in caught.value.tip
