"""Which keys sign and check a project's images and bundles: `[signing]` of polyarch.toml and the --key flags.

Key files are looked up here (a missing one is refused by name); cosign itself
is run by `polyarch.adapters.cosign`, from the executor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from polyarch.adapters.bundle import expand_user_path
from polyarch.core.errors import UsageError

# Set by GitHub Actions in a job allowed to ask for an OIDC token (permissions: id-token: write).
OIDC_VAR = "ACTIONS_ID_TOKEN_REQUEST_URL"


@dataclass(frozen=True)
class Signer:
    """How a release is signed: with a private key, or keyless (OIDC in CI)."""

    key: Path | None = None
    keyless: bool = False

    def describe(self) -> str:
        return f"key {self.key}" if self.key else "keyless (OIDC identity, transparency log)"


def key_path(text: str, root: Path) -> Path:
    """A key path as written: `~/` expanded, relative paths from the project folder."""
    path = expand_user_path(text)
    return path if path.is_absolute() else (root / path)


def _existing(path: Path, source: str, what: str) -> Path:
    if not path.is_file():
        raise UsageError(f"The {what} {path} (from {source}) is not a file, so nothing was signed or checked.",
                         tip="Make a key pair with `cosign generate-key-pair`, and name the files in [signing] of polyarch.toml.")
    return path


def signer_for(stack, sign: bool = True, env=None) -> Signer | None:
    """The signer `[signing]` configures for deploy-build and publish-merge (None: no signing).

    `keyless` needs an OIDC identity, which a GitHub Actions job with
    `id-token: write` provides: there it wins; elsewhere a key does.
    """
    settings = stack.settings.signing
    env = os.environ if env is None else env
    if not sign:
        return None
    if settings.keyless and env.get(OIDC_VAR):
        return Signer(keyless=True)
    if settings.key:
        return Signer(key=_existing(key_path(settings.key, stack.root), "[signing] key", "private key"))
    if settings.keyless:
        return Signer(keyless=True)
    return None


def public_key_for(stack, flag: str | None) -> Path | None:
    """The public key that checks images and bundles: --key, else `[signing] public_key` (None: not checked)."""
    if flag:
        return _existing(expand_user_path(flag).resolve(), "--key", "public key")
    if stack is not None and stack.settings.signing.public_key:
        return _existing(key_path(stack.settings.signing.public_key, stack.root), "[signing] public_key", "public key")
    return None
