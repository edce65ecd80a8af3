"""`buildx imagetools`: the part of the Engine that reads and writes manifests in registries."""

from __future__ import annotations

import json
from typing import Any

from polyarch.adapters.docker.errors import docker_errors
from polyarch.adapters.docker.models import ImageIndex
from polyarch.adapters.docker.parse import attestation_kinds, image_config, image_index, one_platform_index, single_manifest
from polyarch.core.errors import MissingTagError

ATTESTATION_FORMAT = '{"provenance": {{json .Provenance}}, "sbom": {{json .SBOM}}}'


class Imagetools:
    """Engine methods for registry manifests (mixed into Engine)."""

    docker: Any

    def _run(self, args: list[str]) -> str:
        """Run `docker ARGS` and return its output (python-on-whales' model of imagetools drops fields polyarch reads)."""
        from python_on_whales.utils import run

        return run(self.docker.client_config.docker_cmd + args)

    def inspect_index(self, ref: str, missing_ok: bool = False, labels: bool = False) -> ImageIndex | None:
        """Platforms of a tag in a registry, attestation entries left out.

        With `missing_ok`, a tag that does not exist gives None instead of an
        error. One `imagetools inspect` call; a second reads the image config
        of a bare manifest (the only place its platform is written) and, when
        `labels` asks for them, of a one-platform index (its image's labels).
        python-on-whales' model drops the list's own digest, so the JSON is read here.
        """
        try:
            with docker_errors(f"inspect {ref} in its registry", missing=ref):
                manifest = json.loads(self._run(["buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest}}"]))
        except MissingTagError:
            if missing_ok:
                return None
            raise
        read_config = single_manifest(manifest) or (labels and one_platform_index(manifest))
        return image_index(ref, manifest, self._image_config(ref) if read_config else None)

    def _image_config(self, ref: str) -> dict:
        """The image config of a one-platform ref; for an index, imagetools follows it to its one image."""
        with docker_errors(f"read the image config of {ref}"):
            return image_config(json.loads(self._run(["buildx", "imagetools", "inspect", ref, "--format", "{{json .Image}}"])))

    def attestations(self, ref: str) -> dict[str, tuple[str, ...]]:
        """The BuildKit attestations a tag carries, by platform: "provenance (mode=max)" or "(mode=min)", "SBOM"."""
        try:
            with docker_errors(f"read the attestations of {ref}"):
                data = json.loads(self._run(["buildx", "imagetools", "inspect", ref, "--format", ATTESTATION_FORMAT]))
        except ValueError:
            return {}
        return attestation_kinds(data.get("provenance") or {}, data.get("sbom") or {})

    def create_manifest(self, tags: tuple[str, ...], sources: tuple[str, ...], annotations: dict[str, str] | None = None) -> None:
        """One manifest list under every tag; `annotations` keys carry their target ("index:...")."""
        with docker_errors(f"create the manifest list {', '.join(tags)}"):
            self.docker.buildx.imagetools.create(sources=list(sources), tags=list(tags), annotations=dict(annotations or {}))
