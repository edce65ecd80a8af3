"""Choosing how to sign (polyarch.model.signing): keys from the project folder or --key, keyless only in GitHub Actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from unit_helpers import compose_cli, copy_repo_stack, edit_settings, load_clean  # noqa: F401  (fixtures)

from polyarch.core.errors import UsageError
from polyarch.model.signing import OIDC_VAR, Signer, public_key_for, signer_for


@pytest.fixture
def signed_stack(tmp_path, compose_cli):
    """The sample stack with a key pair named in [signing] (files with dummy content: nothing is signed here)."""
    settings = copy_repo_stack(tmp_path / "stack")
    keys = settings.parent / "keys"
    keys.mkdir()
    (keys / "cosign.key").write_text("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nsecret-key-material\n")
    (keys / "cosign.pub").write_text("-----BEGIN PUBLIC KEY-----\n")

    def change(data):
        data["signing"] = {"key": "keys/cosign.key", "public_key": "keys/cosign.pub"}
        data.setdefault("project", {})["registry"] = "127.0.0.1:5000/signed"
    edit_settings(settings, change)
    return settings


def test_keys_resolve_from_the_project_folder_and_a_missing_one_is_refused(signed_stack, tmp_path):
    stack = load_clean(signed_stack)
    assert signer_for(stack, env={}) == Signer(key=signed_stack.parent / "keys" / "cosign.key")
    assert signer_for(stack, sign=False, env={}) is None
    assert public_key_for(stack, None) == signed_stack.parent / "keys" / "cosign.pub"
    with pytest.raises(UsageError, match="is not a file"):
        public_key_for(stack, str(tmp_path / "nowhere.pub"))


def test_keyless_wins_only_where_github_actions_gives_an_oidc_token(signed_stack):
    edit_settings(signed_stack, lambda data: data["signing"].update(keyless=True))
    stack = load_clean(signed_stack)
    assert signer_for(stack, env={OIDC_VAR: "https://token"}) == Signer(keyless=True)
    assert signer_for(stack, env={}).key is not None
