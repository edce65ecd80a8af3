"""Checks before anything is built (polyarch.cli.preflight): cache settings, the SBOM scanner, cosign's set-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyarch.cli.preflight import check_signing
from polyarch.core.errors import UsageError
from polyarch.model.signing import OIDC_VAR, Signer


def test_gha_cache_outside_github_actions_is_refused_before_building():
    from polyarch.core.errors import UsageError
    from polyarch.cli.preflight import check_gha_runtime

    with pytest.raises(UsageError, match="ACTIONS_RUNTIME_TOKEN"):
        check_gha_runtime({})
    check_gha_runtime({"ACTIONS_RUNTIME_TOKEN": "x", "ACTIONS_RESULTS_URL": "https://results"})


def test_a_cache_the_builder_cannot_export_is_refused_before_building():
    from polyarch.core.errors import UsageError
    from polyarch.cli.preflight import check_cache

    with pytest.raises(UsageError, match="docker driver on the classic image store"):
        check_cache("registry", "docker", containerd_store=False)
    check_cache("registry", "docker", containerd_store=True)
    check_cache("local", "docker-container", containerd_store=False)
    check_cache(None, "docker", containerd_store=False)


def test_a_cache_ref_prefix_that_is_not_a_registry_reference_is_refused():
    from polyarch.core.errors import UsageError
    from polyarch.cli.preflight import check_cache

    with pytest.raises(UsageError, match="neither"):
        check_cache("127.0.0.1:5000/c,type=local,dest=/tmp/elsewhere")
    check_cache("127.0.0.1:5000/team/cache")


def test_an_sbom_is_refused_before_building_when_no_registry_serves_the_scanner_image(monkeypatch):
    """Test double for the engine (only its mirror list) and for the registry read, which fails as it does offline."""
    from polyarch.adapters import registry as registry_api
    from polyarch.cli.preflight import SBOM_SCANNER, check_sbom_scanner

    asked = []

    def unreachable(ref, platform, mirrors):
        asked.append((ref, platform, mirrors))
        raise registry_api.RegistryHTTPError(f"{ref} could not be read from its registry")

    class EngineDouble:
        def registry_mirrors(self):
            return ("http://127.0.0.1:5000",)

    monkeypatch.setattr(registry_api, "resolve_image", unreachable)
    with pytest.raises(UsageError, match="nothing was built") as caught:
        check_sbom_scanner(EngineDouble(), "linux/amd64")
    assert asked == [(SBOM_SCANNER, "linux/amd64", ("http://127.0.0.1:5000",))]
    assert "sbom = false" in caught.value.tip


def test_signing_needs_the_password_in_the_environment_before_anything_is_built():
    with pytest.raises(UsageError, match="COSIGN_PASSWORD is not") as caught:
        check_signing(Signer(key=Path("k.key")), dry_run=True, env={})
    assert caught.value.exit_code == 2
    check_signing(Signer(key=Path("k.key")), dry_run=True, env={"COSIGN_PASSWORD": ""})  # a key made without one


def test_keyless_outside_github_actions_is_refused():
    with pytest.raises(UsageError, match="OIDC identity"):
        check_signing(Signer(keyless=True), dry_run=True, env={})
    check_signing(Signer(keyless=True), dry_run=True, env={OIDC_VAR: "https://token"})
