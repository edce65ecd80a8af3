"""Plans: frozen descriptions of what a task will do to the outside world.

A planner (pure, in `polyarch.planning.planner`) turns a stack, a mode and options into a
`Plan`; `--dry-run` prints it; `polyarch.execution.runner` walks the same plan step by
step. Nothing here touches docker or the network; the file system is read only by
`Build.secret_variables`, when the engine asks for the build secrets' values.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from polyarch.adapters.docker.args import DockerArgs


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
            from polyarch.planning.fingerprint import ANNOTATION

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
        from polyarch.model.buildspec import hcl_literal

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

    def secret_variables(self) -> tuple[tuple[str, str], ...]:
        """Values for the `env=` build secrets that the environment lacks, read (at run time) from the stack's .env as compose reads them."""
        from polyarch.model.envfile import read_env

        wanted: dict[str, Path] = {}
        for target in self.targets:
            for secret in target.secrets:
                fields = dict(part.split("=", 1) for part in secret.split(",") if "=" in part)
                if "env" in fields and fields["env"] not in os.environ and target.secret_env_file is not None:
                    wanted[fields["env"]] = target.secret_env_file
        values = []
        for name, env_file in wanted.items():
            value = read_env(env_file).get(name)
            if value is not None:
                values.append((name, value))
        return tuple(values)

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
        from dataclasses import replace

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
class Tag:
    """Give an image in the engine more names."""

    source: str
    targets: tuple[str, ...]

    def summary(self) -> str:
        return f"tag {self.source} as {', '.join(self.targets)}"


@dataclass(frozen=True)
class Pull:
    """Pull one image for one platform and check the architecture it got."""

    ref: str
    platform: str
    only_if_missing: bool = False

    def call(self) -> DockerArgs:
        return DockerArgs(("image", "pull"), (("platform", self.platform), ("quiet", True)), (self.ref,))

    def summary(self) -> str:
        call = self.call()
        return (f"pull {call.operands[0]} for {call.kwargs()['platform']}"
                + (" unless the engine already holds it" if self.only_if_missing else ""))


@dataclass(frozen=True)
class PullVerified(Pull):
    """A Pull of exactly the digest a VerifySignature step of this plan checked for `ref`, tagged `ref`."""

    def summary(self) -> str:
        return f"pull {self.ref} for {self.platform} by the digest whose signature was verified"


@dataclass(frozen=True)
class Compose:
    """The compose project a step acts on: files, project name, variables."""

    project: str
    files: tuple[Path, ...]
    env_files: tuple[Path, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()

    def client_options(self) -> dict[str, object]:
        """The compose options of the engine's client for this project (python-on-whales names)."""
        return {"compose_project_name": self.project, "compose_files": [str(f) for f in self.files],
                "compose_env_files": [str(f) for f in self.env_files]}

    def describe(self) -> str:
        """The same options as compose's command line: -p, -f and --env-file."""
        options = self.client_options()
        words = [f"-p {options['compose_project_name']}", *(f"-f {f}" for f in options["compose_files"]),
                 *(f"--env-file {f}" for f in options["compose_env_files"])]
        return " ".join(words)

    def text(self, call: DockerArgs) -> str:
        """A compose call as the plan prints it, with the variables the engine sets for it."""
        extra = ", ".join(f"{k}={v}" for k, v in self.variables)
        first, *rest = call.words()
        return f"{first} {self.describe()} {' '.join(rest)}" + (f" (with {extra})" if extra else "")


@dataclass(frozen=True)
class ComposeUp:
    """Start the stack (or some services) detached, never building, and wait until health checks pass."""

    compose: Compose
    pull: str = "missing"
    services: tuple[str, ...] = ()
    # Skip it when every container already runs its current config and image (see polyarch.planning.uptodate).
    skip_if_current: bool = False

    def call(self) -> DockerArgs:
        # A full `up` removes containers of services the files no longer name; starting some services leaves the rest.
        return DockerArgs(("compose", "up"), (("detach", True), ("wait", True), ("no_build", True), ("pull", self.pull),
                                              ("remove_orphans", not self.services)), self.services)

    def summary(self) -> str:
        return self.compose.text(self.call()) + ("; skipped when every container already runs its current configuration and image"
                                                 if self.skip_if_current else "")


@dataclass(frozen=True)
class ComposeRemove:
    """Stop and remove some services' containers (compose rm --stop --force)."""

    compose: Compose
    services: tuple[str, ...]

    def call(self) -> DockerArgs:
        # python-on-whales always adds --force to `rm`.
        return DockerArgs(("compose", "rm", "--force"), (("stop", True), ("volumes", False)), self.services)

    def summary(self) -> str:
        return self.compose.text(self.call())


@dataclass(frozen=True)
class ComposeDown:
    """Stop and remove the stack's containers and networks (and volumes, if asked)."""

    compose: Compose
    volumes: bool = False

    def call(self) -> DockerArgs:
        return DockerArgs(("compose", "down"), (("remove_orphans", True), ("volumes", self.volumes)))

    def summary(self) -> str:
        return self.compose.text(self.call())


@dataclass(frozen=True)
class RemoveImages:
    """Remove the named local images (absent ones are fine), and with `prune_dangling` the engine's dangling ones."""

    refs: tuple[str, ...]
    prune_dangling: bool = True
    # Repositories whose every local tag goes too (published images `prod` pulled).
    repositories: tuple[str, ...] = ()

    def summary(self) -> str:
        text = f"remove images {', '.join(self.refs)}"
        if self.repositories:
            text += f", and every local tag of {', '.join(self.repositories)}"
        return text + (", then prune dangling images" if self.prune_dangling else "")


@dataclass(frozen=True)
class CheckImages:
    """Fail unless every named image is in the engine, runs on `platform`, and has the promised image ID."""

    refs: tuple[str, ...]
    tip: str = ""
    platform: str | None = None
    image_ids: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        text = f"check that {len(self.refs)} images are present"
        if self.platform:
            text += f" for {self.platform}"
        if self.image_ids:
            text += " with the image IDs the bundle names"
        return text + f": {', '.join(self.refs)}"


@dataclass(frozen=True)
class Verify:
    """Inspect a pushed tag and fail unless it lists every platform.

    With `single`, the ref must be one image of exactly that platform (a
    merge source): its own manifest, or an index of it and its attestation
    manifests, not a list of platforms; and its config must carry `labels`.
    """

    ref: str
    platforms: tuple[str, ...]
    single: bool = False
    # Image-config labels a single image must carry: those publish-build stamped (the image it built).
    labels: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        if self.single:
            of = f" labelled {', '.join(f'{k}={v}' for k, v in self.labels)}" if self.labels else ""
            return f"verify {self.ref} is a single {', '.join(self.platforms)} image (with or without attestations){of}"
        return f"verify {self.ref} lists {', '.join(self.platforms)}"


@dataclass(frozen=True)
class CreateManifest:
    """Create a manifest list under each tag from per-platform digests."""

    tags: tuple[str, ...]
    sources: tuple[str, ...]
    annotations: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        text = f"create manifest list {', '.join(self.tags)} from {', '.join(self.sources)}"
        return text + (f" with {len(self.annotations)} OCI annotations" if self.annotations else "")


@dataclass(frozen=True)
class UpdateValues:
    """Write the published tag into the Helm values file (`image.tag`), and pushed refs into other keys."""

    path: Path
    tag: str
    refs: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        extra = "".join(f", {key} = {ref}" for key, ref in self.refs)
        return f"write image.tag = {self.tag}{extra} into {self.path}"


@dataclass(frozen=True)
class BundleSignature:
    """A bundle's cosign signature (`sign-blob`, offline), written beside it and published with it."""

    key: Path
    path: Path


@dataclass(frozen=True)
class SaveBundle:
    """`docker save` every image in one call, gzip it with all cores, write checksum and manifest."""

    refs: tuple[str, ...]
    bundle: Path
    checksum: Path
    stack: str
    version: str
    platform: str
    level: int
    signature: BundleSignature | None = None

    def summary(self) -> str:
        return (f"save {len(self.refs)} images in one docker save, gzip -{self.level} on all cores into "
                f"{self.bundle} (+ {self.checksum.name}{_signed(self.signature)})")


@dataclass(frozen=True)
class FetchBundle:
    """Write a bundle from blobs registries hold: manifests, configs and layers over HTTP, no engine export.

    `images` are (local names, registry ref) pairs.
    """

    images: tuple[tuple[tuple[str, ...], str], ...]
    bundle: Path
    checksum: Path
    stack: str
    version: str
    platform: str
    level: int
    signature: BundleSignature | None = None

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(name for names, _ in self.images for name in names)

    def summary(self) -> str:
        sources = ", ".join(ref for _, ref in self.images)
        return (f"read {len(self.images)} images for {self.platform} from their registries ({sources}) and write them, "
                f"digests checked, into {self.bundle} (+ {self.checksum.name}{_signed(self.signature)}); "
                "nothing is built, pulled or exported by the engine")


def _signed(signature: BundleSignature | None) -> str:
    return f", {signature.path.name} signed with {signature.key} by cosign sign-blob" if signature else ""


@dataclass(frozen=True)
class SignImage:
    """Sign, with cosign, the manifest list a tag points at, by its digest (read when the tag was verified)."""

    ref: str
    key: Path | None = None
    keyless: bool = False

    def summary(self) -> str:
        how = f"key {self.key}, no transparency log" if self.key else "keyless: OIDC identity, transparency log"
        return f"sign {self.ref} by digest with cosign ({how})"


@dataclass(frozen=True)
class VerifySignature:
    """Check a tag's cosign signature with a public key; a following PullVerified of that tag pulls exactly the checked digest."""

    ref: str
    public_key: Path

    def summary(self) -> str:
        return f"verify the cosign signature of {self.ref} with {self.public_key} (refused unless it matches)"


@dataclass(frozen=True)
class VerifyBundleSignature:
    """Check a bundle's cosign signature (`<bundle>.sig`) with a public key, offline, before anything is loaded."""

    bundle: Path
    signature: Path
    public_key: Path

    def summary(self) -> str:
        return f"verify {self.bundle.name} against {self.signature.name} with {self.public_key}, offline, before loading"


@dataclass(frozen=True)
class KeepNames:
    """Keep the images some local names point at under backup names, so RestoreNames can put them back."""

    names: tuple[str, ...]
    # When the backups are put back: packaging always restores them, loading only when a check fails.
    restored: str = "after the bundle is written"

    def summary(self) -> str:
        return f"keep what {len(self.names)} local names point at under backup names (put back {self.restored})"


@dataclass(frozen=True)
class RestoreNames:
    """Point the local names back at the images they named before (or remove names that did not exist).

    An image the run put under one of the names goes too once no name is
    left on it. Runs even when a step between KeepNames and this one fails.
    """

    names: tuple[str, ...]
    before: str = "packaging"

    def summary(self) -> str:
        return (f"put {len(self.names)} local names back as they were before {self.before} "
                "(removing names that did not exist, and the images this run left nameless)")


@dataclass(frozen=True)
class LoadBundle:
    """`docker load` a bundle while its sha256 (when a checksum file gives one) is computed alongside."""

    bundle: Path
    sha256: str | None = None

    def summary(self) -> str:
        return f"docker load < {self.bundle}" + (", checking its sha256 at the same time" if self.sha256 else "")


@dataclass(frozen=True)
class DropKeptNames:
    """The new images passed every check: forget the backups KeepNames made (a later failure no longer restores)."""

    names: tuple[str, ...]

    def summary(self) -> str:
        return f"keep the {len(self.names)} loaded images (drop the previous ones' backup names)"


@dataclass(frozen=True)
class RecordDigests:
    """Write the digest the preceding build pushed, one file per image: DIR/<image>/<arch>."""

    folder: Path
    platform: str
    images: tuple[str, ...]

    def summary(self) -> str:
        return f"write {', '.join(self.images)} digests for {self.platform} under {self.folder}"


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


@dataclass(frozen=True)
class CopyByDigest:
    """Copy the image the preceding build pushed from a staging repository, by digest, without a tag."""

    image: str
    source: str
    destination: str

    def summary(self) -> str:
        return f"copy {self.image} from {self.source} to {self.destination}@<digest> (no tag), then delete the staging copy"


@dataclass(frozen=True)
class InitEnv:
    """Create the .env file from its example (mode 0600) and fill empty secret keys with fresh secrets; no value is shown."""

    path: Path
    create: bool
    example: Path | None = None
    fill: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.create:
            text = f"create {self.path} (mode 0600) " + (f"from {self.example}" if self.example else "empty (no example file)")
        else:
            text = f"rewrite {self.path} with mode 0600"
        if self.fill:
            text += f", filling {', '.join(self.fill)} with fresh 32-byte secrets"
        if self.kept:
            text += f"; the values set for {', '.join(self.kept)} are kept"
        return text


@dataclass(frozen=True)
class WriteFiles:
    """Write generated files, each atomically (folders created when missing)."""

    files: tuple[tuple[Path, str], ...]

    def summary(self) -> str:
        return f"write {', '.join(str(path) for path, _ in self.files)}"


# Steps that only write files: a plan of nothing else needs no engine.
FILE_STEPS = (InitEnv, WriteFiles)


Step = Union[InitEnv, WriteFiles, PullVerified, SignImage, VerifySignature, VerifyBundleSignature, FetchBundle, DropKeptNames, KeepNames, RestoreNames, ComposeRemove, CopyByDigest, RecordDigests, RemoveBuilder, AddBuilderNode, SaveBundle, LoadBundle, Build, Tag, Pull, ComposeUp, ComposeDown, RemoveImages, CheckImages, Verify, CreateManifest, UpdateValues]


@dataclass(frozen=True)
class Plan:
    """An ordered list of steps, with a title and notes for the reader."""

    title: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def uses_engine(self) -> bool:
        return not all(isinstance(step, FILE_STEPS) for step in self.steps)

    def to_data(self) -> dict[str, object]:
        """The plan as plain JSON-ready data: every step with its kind and fields."""
        return {
            "title": self.title,
            "notes": list(self.notes),
            "steps": [{"kind": type(step).__name__, "summary": step.summary(), **_plain(step)} for step in self.steps],
        }


def _plain(value: object) -> object:
    """Dataclasses, paths and tuples as JSON-ready values."""
    from dataclasses import fields, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        data = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, Build):
            data["bake_definition"] = value.definition()
        return data
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
