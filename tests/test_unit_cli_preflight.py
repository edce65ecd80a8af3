"""Checks before anything is built (polyarch.cli.preflight): cache settings and the SBOM scanner."""

from __future__ import annotations

import pytest

from polyarch.core.errors import UsageError


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
