"""The engine's reading of one-platform indexes and attestations (polyarch.adapters.docker.engine).

INDEX is what the registry on 127.0.0.1:5000 served for a linux/amd64 image
pushed by digest with `--provenance mode=max` (buildx 0.13, docker driver),
recorded by `docker buildx imagetools inspect REF@DIGEST --format '{{json .Manifest}}'`;
CONFIG is part of `--format '{{json .Image}}'` for the same digest.
"""

from __future__ import annotations

import json

import pytest

from polyarch.adapters.docker.engine import Engine, ImageIndex, attestation_kinds, one_platform_index
from polyarch.planning.steps.release import Verify


IMAGE = "sha256:cac6fc94abee1d79c7d9e5f4dd5710de969c026626f0fddb742a221b52330d73"
INDEX = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "digest": "sha256:153e451009eaa636d2b3c22ca24c4b9e679cda73d61bb8e37576f4b62649007f",
    "size": 855,
    "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": IMAGE, "size": 667,
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": "sha256:c455950c51e648609dec5aa952deab3708f8b0a71057f5cfa27c6155fa0bb909", "size": 566,
         "annotations": {"vnd.docker.reference.digest": IMAGE, "vnd.docker.reference.type": "attestation-manifest"},
         "platform": {"architecture": "unknown", "os": "unknown"}},
    ],
}
CONFIG = {"architecture": "amd64", "os": "linux",
          "config": {"Cmd": ["sh"], "Labels": {"org.opencontainers.image.title": "server"}}}
TITLE = (("org.opencontainers.image.title", "server"),)


def with_entries(*entries: dict) -> dict:
    return dict(INDEX, manifests=list(entries))


IMAGE_ENTRY, ATTESTATION_ENTRY = INDEX["manifests"]
ARM_ENTRY = dict(IMAGE_ENTRY, digest="sha256:" + "4" * 64, platform={"architecture": "arm64", "os": "linux"})


@pytest.mark.parametrize(("manifest", "one"), [
    (INDEX, True),
    (with_entries(IMAGE_ENTRY), True),
    # Two platforms: a list, even with the attestation.
    (with_entries(IMAGE_ENTRY, ATTESTATION_ENTRY, ARM_ENTRY), False),
    # An unknown/unknown entry that is no attestation manifest.
    (with_entries(IMAGE_ENTRY, dict(ATTESTATION_ENTRY, annotations={})), False),
    # An attestation of some other image.
    (with_entries(IMAGE_ENTRY, dict(ATTESTATION_ENTRY, annotations={**ATTESTATION_ENTRY["annotations"],
                                                                    "vnd.docker.reference.digest": "sha256:" + "9" * 64})), False),
    # Attestations only.
    (with_entries(ATTESTATION_ENTRY), False),
    # A bare image manifest is no index.
    ({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": IMAGE, "config": {}}, False),
])
def test_a_one_platform_index_is_one_image_manifest_plus_attestations_of_it(manifest, one):
    assert one_platform_index(manifest) is one


class RecordedImagetools(Engine):
    """Test double for the docker CLI: `imagetools inspect` answers with recorded JSON (no registry is asked)."""

    def __init__(self, manifest: dict, config: dict) -> None:
        super().__init__()
        self.answers = {"{{json .Manifest}}": manifest, "{{json .Image}}": config}
        self.asked: list[str] = []

    def _run(self, args: list[str]) -> str:
        self.asked.append(args[-1])
        return json.dumps(self.answers[args[-1]])


def test_the_engine_reads_the_labels_of_a_one_platform_index_through_it():
    index = RecordedImagetools(INDEX, CONFIG).inspect_index(f"r:5000/ns/server@{INDEX['digest']}", labels=True)
    assert (index.platforms, index.single, index.attested, index.one_image) == (("linux/amd64",), False, True, True)
    assert index.labels == {"org.opencontainers.image.title": "server"}
    assert index.digest == INDEX["digest"]
    # imagetools may key the config of an index by platform: the one image's config is taken.
    keyed = RecordedImagetools(INDEX, {"linux/amd64": CONFIG}).inspect_index("r:5000/ns/server:x", labels=True)
    assert keyed.labels == {"org.opencontainers.image.title": "server"}


def test_a_one_platform_index_costs_one_call_unless_its_labels_are_asked_for():
    imagetools = RecordedImagetools(INDEX, CONFIG)
    index = imagetools.inspect_index("r:5000/ns/server:x")
    assert (index.platforms, index.one_image, index.labels) == (("linux/amd64",), True, {})
    assert imagetools.asked == ["{{json .Manifest}}"]


def test_a_list_of_two_platforms_reads_no_config_and_has_no_labels():
    two = with_entries(IMAGE_ENTRY, ATTESTATION_ENTRY, ARM_ENTRY)
    index = RecordedImagetools(two, {"not": "asked"}).inspect_index("r:5000/ns/server:x")
    assert (index.platforms, index.one_image, index.labels) == (("linux/amd64", "linux/arm64"), False, {})


class IndexEngine:
    """Test double for the engine: the registry answers the given index for every ref."""

    def __init__(self, index: ImageIndex) -> None:
        self.index = index

    def inspect_index(self, ref, missing_ok=False, labels=False):
        return self.index


def source_check(platform: str = "linux/amd64") -> Verify:
    return Verify(f"r:5000/ns/server@{INDEX['digest']}", (platform,), single=True, labels=TITLE)


def attested(platforms=("linux/amd64",), labels=None) -> ImageIndex:
    return ImageIndex("r", INDEX["digest"], platforms, {}, False, dict(TITLE) if labels is None else labels, True)


@pytest.mark.parametrize(("provenance", "sbom", "kinds"), [
    ({"linux/amd64": {"SLSA": {"buildConfig": {}, "builder": {}}}, "linux/arm64": {"SLSA": {"builder": {}}}}, {},
     {"linux/amd64": ("provenance (mode=max)",), "linux/arm64": ("provenance (mode=min)",)}),
    ({"linux/amd64": {"SLSA": {"buildConfig": {}}}}, {"linux/amd64": {"SPDX": {"packages": []}}},
     {"linux/amd64": ("provenance (mode=max)", "SBOM")}),
    ({"SLSA": {"buildConfig": {}}}, {}, {"": ("provenance (mode=max)",)}),
    ({}, {}, {}),
])
def test_attestations_are_named_per_platform(provenance, sbom, kinds):
    assert attestation_kinds(provenance, sbom) == kinds
