"""Checks that refuse a task before anything is built, pushed or loaded: the cache backend, BuildKit's SBOM scanner, cosign."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from polyarch.adapters import cosign
from polyarch.core.errors import SignatureError, UsageError

if TYPE_CHECKING:  # the model is not loaded for `--list`, which imports this module
    from polyarch.model.signing import Signer

# The image BuildKit runs to make an SBOM (its default generator).
SBOM_SCANNER = "docker/buildkit-syft-scanner:stable-1"


def check_gha_runtime(env) -> None:
    """BuildKit's gha cache talks to the GitHub Actions cache service; refuse before building when it is not there."""
    missing = [k for k in ("ACTIONS_RUNTIME_TOKEN",) if not env.get(k)]
    if not (env.get("ACTIONS_CACHE_URL") or env.get("ACTIONS_RESULTS_URL")):
        missing.append("ACTIONS_CACHE_URL (or ACTIONS_RESULTS_URL)")
    if missing:
        raise UsageError(
            f"--cache gha needs the GitHub Actions cache service, and {', '.join(missing)} is not set, so nothing was built.",
            tip="Use it in a workflow step that exposes the runtime (e.g. crazy-max/ghaction-github-runtime), "
                "or pick --cache registry or --cache local here.")


def check_cache(kind: str | None, driver: str | None = None, containerd_store: bool = True) -> None:
    """Refuse, before anything is built, a cache backend this run or its builder cannot use.

    `driver` is the builder that will run the build, when it is known.
    """
    from polyarch.model.settings_rules import CACHE_BACKENDS, hide_credentials, registry_problem

    if kind not in (None, "", *CACHE_BACKENDS):
        # A registry ref prefix: it goes into buildx' cache-from/cache-to specs.
        problem = registry_problem(kind)
        if problem:
            raise UsageError(f"--cache '{hide_credentials(kind)}' is neither a cache backend ({', '.join(CACHE_BACKENDS)}) nor a registry ref prefix HOST[:PORT]/NAME: {problem}.")
    if kind == "gha":
        check_gha_runtime(os.environ)
    if kind not in (None, "", "none") and driver == "docker" and not containerd_store:
        raise UsageError(
            f"--cache {kind} needs a builder that exports its cache, and the current builder uses buildx' docker driver "
            "on the classic image store, which cannot, so nothing was built.",
            tip="Turn on the containerd image store, or select a docker-container builder "
                "(`docker buildx create --use --driver docker-container`), or leave out --cache.")


def check_sbom_scanner(engine, platform: str) -> None:
    """Refuse --sbom before anything is built when BuildKit could not fetch its scanner image (no registry reachable)."""
    from polyarch.adapters.registry import RegistryHTTPError, resolve_image

    try:
        resolve_image(SBOM_SCANNER, platform, engine.registry_mirrors())
    except (RegistryHTTPError, OSError) as exc:
        raise UsageError(
            f"An SBOM needs BuildKit's scanner image {SBOM_SCANNER}, and neither its registry nor the engine's mirrors "
            f"serve it here ({exc}); nothing was built.",
            tip="Build without --sbom ([attestations] sbom = false), or put the scanner image into the registry mirror.") from None


def check_signing(signer: Signer | None, dry_run: bool, env=None) -> None:
    """Refuse, before anything is built or pushed, a signing set-up that would fail at the end.

    The password must be in the environment (a dry run checks that too); cosign itself
    must be installed for a real run; keyless needs the OIDC token GitHub Actions gives
    a job with `id-token: write`.
    """
    from polyarch.model.signing import OIDC_VAR

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
