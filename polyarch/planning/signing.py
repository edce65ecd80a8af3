"""Which keys sign and check a project's images and bundles: `[signing]` of polyarch.toml and the --key flags.

Pure apart from looking whether the key files exist; cosign itself is run by
`polyarch.adapters.cosign`, from the executor.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from polyarch.adapters import cosign
from polyarch.adapters.bundle import expand_user_path
from polyarch.core.errors import SignatureError, UsageError

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


def bundle_signature(bundle: Path) -> Path:
    """Where a bundle's signature lives: beside it, `<bundle>.sig`."""
    return bundle.with_name(bundle.name + ".sig")


def check_ready(signer: Signer | None, dry_run: bool, env=None) -> None:
    """Refuse, before anything is built or pushed, a signing set-up that would fail at the end.

    The password must be in the environment (a dry run checks that too); cosign itself
    must be installed for a real run; keyless needs the OIDC token GitHub Actions gives
    a job with `id-token: write`.
    """
    env = os.environ if env is None else env
    if signer is None:
        return
    if signer.key is not None and cosign.PASSWORD_VAR not in env:
        raise UsageError(f"[signing] key is set, and {cosign.PASSWORD_VAR} is not, so cosign could not open {signer.key}; "
                         "nothing was built.",
                         tip=f"Export {cosign.PASSWORD_VAR} with the key's password (empty for a key made without one), "
                             "or pass --no-sign.")
    if signer.keyless and not env.get(OIDC_VAR):
        raise UsageError("[signing] keyless = true needs an OIDC identity, which only a GitHub Actions job with "
                         "`permissions: id-token: write` provides here; nothing was built.",
                         tip="Sign locally with a key pair ([signing] key), or pass --no-sign.")
    if not dry_run and cosign.binary() is None:
        raise SignatureError("Signing is configured ([signing] in polyarch.toml), and cosign is not installed; nothing was built.",
                             tip=cosign.INSTALL_TIP)


def check_verifier(public_key: Path | None, dry_run: bool) -> None:
    """A check with a public key needs cosign: refuse before anything is pulled or loaded."""
    if public_key is not None and not dry_run and cosign.binary() is None:
        raise SignatureError(f"Checking signatures with {public_key} needs cosign, which is not installed; nothing was pulled or loaded.",
                             tip=cosign.INSTALL_TIP)


def is_cosign_tag(tag: str) -> bool:
    """A tag cosign stores beside an image (its signature, attestation or SBOM): sha256-<digest>.sig and the like."""
    return re.fullmatch(r"sha256-[0-9a-f]{64}\.(sig|att|sbom)", tag) is not None
