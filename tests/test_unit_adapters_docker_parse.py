"""The engine's readers of docker, compose and buildx output, on recorded output (tests/recorded/docker/)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from polyarch.adapters.docker import parse
from polyarch.adapters.docker.models import ContainerState, EngineInfo

RECORDED = Path(__file__).resolve().parent / "recorded" / "docker"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


@pytest.mark.parametrize("listing", ["compose-ps.jsonl", "compose-ps-array.json"])
def test_compose_ps_rows_become_container_states_in_either_form(listing):
    config = json.loads(recorded("compose-config.json"))
    rows = parse.containers(recorded(listing), parse.service_images(config, "rec"))
    assert [(c.service, c.state, c.health, c.exit_code) for c in rows] == [
        ("api", "running", "healthy", 0), ("api", "running", "healthy", 0), ("init", "exited", "", 0), ("worker", "restarting", "", 1)]
    api = rows[0]
    assert api == ContainerState("api", "h-api", "acme-api:dev", "sha256:" + "a" * 64, "running", "healthy", 0,
                                 ("init:service_completed_successfully:true",))
    # A service without `image:` runs compose's own name for its build.
    assert rows[2].image_name == "rec-init"


def test_without_service_names_the_image_is_what_ps_shows():
    rows = parse.containers(recorded("compose-ps.jsonl"), {})
    assert [c.image_name for c in rows] == ["acme-api:dev", "acme-api:dev", "rec-init", "acme-api:dev"]
    assert parse.containers("", {}) == [] and parse.containers("[]", {}) == []


def test_label_values_may_hold_commas():
    text = "a=1,com.docker.compose.depends_on=api:service_healthy:false,init:service_completed_successfully:true,b=x=y"
    assert parse.compose_labels(text) == {"a": "1", "b": "x=y",
                                          "com.docker.compose.depends_on": "api:service_healthy:false,init:service_completed_successfully:true"}
    assert parse.compose_labels("") == {}


def test_config_hashes_and_replicas_from_compose_config():
    hashes = parse.config_hashes(recorded("compose-config-hash.txt"))
    assert sorted(hashes) == ["api", "init", "worker"] and all(len(h) == 64 for h in hashes.values())
    config = json.loads(recorded("compose-config.json"))
    assert parse.service_replicas(config) == {"api": 2, "init": 1, "worker": 3}
    assert parse.service_images(config, "rec") == {"api": "acme-api:dev", "init": "rec-init", "worker": "acme-api:dev"}


def test_an_attested_one_platform_index_reads_platform_and_labels_from_its_config():
    manifest = json.loads(recorded("imagetools-index-attested.json"))
    config = parse.image_config(json.loads(recorded("imagetools-image-config.json")))
    assert parse.one_platform_index(manifest) and not parse.single_manifest(manifest)
    index = parse.image_index("r/server@x", manifest, config)
    assert (index.platforms, index.single, index.attested, index.one_image) == (("linux/amd64",), False, True, True)
    assert index.digest == manifest["digest"] and index.labels == {"org.opencontainers.image.title": "server"}


def test_a_config_keyed_by_platform_is_that_one_image_s_config():
    config = json.loads(recorded("imagetools-image-config.json"))
    assert parse.image_config({"linux/amd64": config}) == config
    assert parse.image_config(["not", "a", "config"]) == {}


def test_a_bare_manifest_takes_its_platform_from_its_config():
    manifest = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:1", "config": {}}
    config = {"os": "linux", "architecture": "arm", "variant": "v7", "config": {}}
    index = parse.image_index("r:1", manifest, config)
    assert (index.platforms, index.single, index.attested, index.labels) == (("linux/arm/v7",), True, False, {})


def test_a_list_of_two_platforms_leaves_attestation_entries_out():
    manifest = json.loads(recorded("imagetools-index-attested.json"))
    arm = dict(manifest["manifests"][0], digest="sha256:" + "4" * 64, platform={"architecture": "arm64", "os": "linux"})
    manifest["manifests"].append(arm)
    index = parse.image_index("r:1", manifest, None)
    assert (index.platforms, index.one_image, index.labels) == (("linux/amd64", "linux/arm64"), False, {})


def test_builder_platforms_are_listed_once_in_node_order():
    assert parse.builder_platforms([["linux/amd64", "linux/386"], None, ["linux/arm64", "linux/amd64"]]) == (
        "linux/amd64", "linux/386", "linux/arm64")


def test_docker_info_says_arch_store_and_mirrors():
    info = SimpleNamespace(architecture="x86_64", os_type="linux", server_version="27.3.1", driver="overlayfs",
                           driver_status=[["driver-type", "io.containerd.snapshotter.v1"]],
                           registry_config={"Mirrors": ["http://127.0.0.1:5000/"]})
    assert parse.engine_info(info) == EngineInfo("x86_64", "linux", "27.3.1", True, ("http://127.0.0.1:5000/",))
    classic = SimpleNamespace(architecture="aarch64", os_type="linux", server_version="24.0.7", driver="overlay2",
                              driver_status=[["Backing Filesystem", "extfs"]], registry_config=None)
    assert parse.engine_info(classic).containerd_store is False and parse.engine_info(classic).mirrors == ()
