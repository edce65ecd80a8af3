"""Checks that refuse a build before anything is built: the cache backend, BuildKit's SBOM scanner."""

from __future__ import annotations

import os

from polyarch.core.errors import UsageError

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
