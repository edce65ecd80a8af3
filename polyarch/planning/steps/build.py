"""Build steps: one buildx bake call and its targets, and the buildx builder's nodes."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from polyarch.adapters.docker.args import DockerArgs
from polyarch.model.buildspec import hcl_literal
from polyarch.model.fingerprint import ANNOTATION


@dataclass(frozen=True)
class ArgSource:
    """Where a build arg's value comes from, for the plan's text (no value: a name and a source are never secret)."""

    name: str
    source: str


@dataclass(frozen=True)
class BakeTarget:
    """One image in a bake definition."""

    name: str
    context: Path
    dockerfile: Path
    stage: str | None
    platforms: tuple[str, ...]
    tags: tuple[str, ...]
    args: tuple[tuple[str, str], ...] = ()
    # Named build contexts (name, folder or other source), used in the Dockerfile as `COPY --from=NAME`.
    contexts: tuple[tuple[str, str], ...] = ()
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    provenance: bool = True
    # Published images: BuildKit's SLSA provenance in full ("max"), and an SBOM (needs the scanner image).
    provenance_mode: str | None = None
    sbom: bool = False
    fingerprint: str | None = None
    # OCI metadata: labels on the image config, annotations on the index and manifests.
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[str, ...] = ()
    # The tag whose registry state decides whether the target can be skipped.
    ref: str | None = None
    # For the plan's text only: the services that run the image, and where build args come from (else compose).
    services: tuple[str, ...] = ()
    arg_sources: tuple[ArgSource, ...] = ()

    def describe(self) -> str:
        """One line for people: stage, platforms, tags, services, build-arg names and their sources."""
        stage = f"target {self.stage}" if self.stage else "target: the Dockerfile's last stage"
        where = {a.name: a.source for a in self.arg_sources}
        text = f"{self.name}: {stage}, {', '.join(self.platforms)}"
        text += f" -> {', '.join(self.tags)}" if self.tags else " (pushed by digest, no tag)"
        if self.services:
            text += f"; services {', '.join(self.services)}"
        if self.args:
            text += "; build args " + ", ".join(f"{name} ({where.get(name, 'compose')})" for name, _ in self.args)
        return text
    # From the compose build section (see polyarch.model.buildspec).
    dockerfile_inline: str | None = None
    # Bake secret specs (id=NAME,src=FILE / id=NAME,env=VARIABLE): where the value is, never the value.
    secrets: tuple[str, ...] = ()
    # Where an env= secret's variable is read when the environment lacks it (the stack's .env).
    secret_env_file: Path | None = None
    ssh: tuple[str, ...] = ()
    shm_size: str | None = None
    ulimits: tuple[str, ...] = ()
    pull: bool = False
    no_cache: bool = False

    def needs(self) -> tuple[str, ...]:
        """Targets this one is built from (`target:` named contexts)."""
        return tuple(v[len("target:"):] for _, v in self.contexts if v.startswith("target:"))

    def definition(self) -> dict[str, object]:
        entry: dict[str, object] = {
            "context": str(self.context),
            "platforms": list(self.platforms),
            "tags": list(self.tags),
        }
        if self.dockerfile_inline is not None:
            entry["dockerfile-inline"] = self.dockerfile_inline
        else:
            entry["dockerfile"] = str(self.dockerfile)
        for key, value in (("secret", list(self.secrets)), ("ssh", list(self.ssh)), ("shm-size", self.shm_size),
                           ("ulimits", list(self.ulimits)), ("pull", self.pull), ("no-cache", self.no_cache)):
            if value:
                entry[key] = value
        if self.stage:
            entry["target"] = self.stage
        if self.args:
            entry["args"] = dict(self.args)
        if self.contexts:
            entry["contexts"] = dict(self.contexts)
        if self.cache_from:
            entry["cache-from"] = list(self.cache_from)
        if self.cache_to:
            entry["cache-to"] = list(self.cache_to)
        if self.outputs:
            entry["output"] = list(self.outputs)
        if not self.provenance:
            entry["attest"] = ["type=provenance,disabled=true"]
        elif self.provenance_mode:
            entry["attest"] = [f"type=provenance,mode={self.provenance_mode}"]
        if self.sbom:
            entry["attest"] = [*entry.get("attest", []), "type=sbom"]
        annotations = list(self.annotations)
        if self.fingerprint and self.ref:
            # A pushed list carries its inputs' fingerprint; a local build has it as a label (see host_build).
            annotations.append(f"index:{ANNOTATION}={self.fingerprint}")
        if annotations:
            entry["annotations"] = annotations
        if self.labels:
            entry["labels"] = dict(self.labels)
        return entry


@dataclass(frozen=True)
class Build:
    """Build every target in one `docker buildx bake` call, in parallel."""

    targets: tuple[BakeTarget, ...]
    load: bool = False
    push: bool = False
    no_cache: bool = False
    builder: str | None = None
    # Skip a target whose tag in the registry already carries its fingerprint.
    skip_unchanged: bool = False
    # With no builder named: when something is left to build, use the current
    # builder if it builds every platform at once, else this one (created once).
    fallback_builder: str | None = None

    @property
    def pushes(self) -> bool:
        """Does this build push to a registry (by tag, or by digest through an output)?"""
        return self.push or any("push=true" in o for t in self.targets for o in t.outputs)

    def definition(self) -> dict[str, object]:
        """The bake file polyarch writes and hands to buildx (JSON form)."""
        return {
            "group": {"default": {"targets": [t.name for t in self.targets]}},
            "target": {t.name: t.definition() for t in self.targets},
        }

    def definition_json(self) -> str:
        """The bake file's text: every string escaped so bake's template reading gives it back unchanged."""
        def literal(value: object) -> object:
            if isinstance(value, str):
                return hcl_literal(value)
            if isinstance(value, list):
                return [literal(v) for v in value]
            if isinstance(value, dict):
                return {hcl_literal(k): literal(v) for k, v in value.items()}
            return value

        return json.dumps(literal(self.definition()), indent=2, sort_keys=True)

    def call(self, bake_file: str = "<bake.json>") -> DockerArgs:
        """The bake call this step makes (the engine runs exactly this)."""
        return DockerArgs(("buildx", "bake"), (("files", (bake_file,)), ("builder", self.builder), ("load", self.load),
                                               ("push", self.push), ("cache", not self.no_cache)),
                          tuple(t.name for t in self.targets))

    def env_secrets(self) -> tuple[tuple[str, Path], ...]:
        """The variables `env=` build secrets name, each with the .env file compose would read it from."""
        wanted: dict[str, Path] = {}
        for target in self.targets:
            for secret in target.secrets:
                fields = dict(part.split("=", 1) for part in secret.split(",") if "=" in part)
                if "env" in fields and target.secret_env_file is not None:
                    wanted[fields["env"]] = target.secret_env_file
        return tuple(wanted.items())

    def command(self, bake_file: str = "<bake.json>") -> list[str]:
        """The buildx command line this step runs."""
        return ["docker", *self.call(bake_file).words()]

    def summary(self) -> str:
        platforms = sorted({p for t in self.targets for p in t.platforms})
        if self.pushes:
            by_digest = any("push-by-digest=true" in o for t in self.targets for o in t.outputs)
            where = "push to the registry" + (" by digest" if by_digest else "")
        else:
            where = "load into the engine" if self.load else "build only"
        text = f"build {', '.join(t.name for t in self.targets)} for {', '.join(platforms)} in one bake call, then {where}"
        if self.skip_unchanged and self.load:
            text += " (an image whose local names already carry the same inputs is not rebuilt)"
        elif self.skip_unchanged:
            text += " (an image whose tag already holds the same inputs is skipped: no build, no push)"
        if self.fallback_builder and not self.builder:
            text += f"; builder: the current one if it builds {', '.join(platforms)} at once, else {self.fallback_builder}"
        return text

    def without(self, names: set[str]) -> "Build":
        """The same build minus some targets, keeping those a remaining target is built from."""
        kept = {t.name for t in self.targets if t.name not in names}
        by_name = {t.name: t for t in self.targets}
        pending = list(kept)
        while pending:
            for need in by_name[pending.pop()].needs():
                if need in by_name and need not in kept:
                    kept.add(need)
                    pending.append(need)
        return replace(self, targets=tuple(t for t in self.targets if t.name in kept))


@dataclass(frozen=True)
class RemoveBuilder:
    """Remove a buildx builder so it can be made again from scratch."""

    name: str

    def summary(self) -> str:
        return f"remove the existing builder {self.name}"


@dataclass(frozen=True)
class AddBuilderNode:
    """Create a builder, or append a node to it, for one platform at one endpoint."""

    name: str
    platform: str
    endpoint: str
    append: bool

    def summary(self) -> str:
        verb = "append to" if self.append else "create"
        return f"{verb} builder {self.name}: node for {self.platform} at {self.endpoint} (docker-container driver)"
