"""Plans that publish or run published images: deploy-build, publish-build, publish-merge, prod. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from polyarch.core.platforms import arch_name
from polyarch.model.stack import ImageBuild, Stack
from polyarch.planning.bake_targets import arg_sources, image_target, task_platforms
from polyarch.planning.dev_plans import compose_for
from polyarch.planning.plans import Plan
from polyarch.planning.release_rules import oci_metadata
from polyarch.planning.steps.build import ArgSource, Build
from polyarch.planning.steps.compose import ComposeDown, ComposeUp
from polyarch.planning.steps.images import KeepNames, Pull, PullVerified, RestoreNames, Tag
from polyarch.planning.steps.release import CopyByDigest, CreateManifest, RecordDigests, SignImage, UpdateValues, Verify, VerifySignature


def cache_settings(kind: str | None, registry: str, image: ImageBuild, cache_root: Path,
                   platform: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """Cache import/export for one image: (cache-from, cache-to, description).

    With `platform` (publish-build: one runner per platform) every cache is
    kept per image and platform, so parallel runners never overwrite each
    other's cache; deploy-build's one bake call shares one cache per image.
    """
    suffix = f"-{arch_name(platform)}" if platform else ""
    if not kind or kind == "none":
        return (), (), "the builder's own cache"
    if kind == "registry":
        ref = f"{registry}/{image.repository}:buildcache{suffix}"
        return (f"type=registry,ref={ref}",), (f"type=registry,ref={ref},mode=max",), f"registry cache {ref}"
    if kind == "local":
        folder = cache_root / f"{image.name}{suffix}"
        return (f"type=local,src={folder}",), (f"type=local,dest={folder},mode=max",), f"local cache {folder}"
    if kind == "gha":
        scope = f"polyarch-{image.name}{suffix}"
        return (f"type=gha,scope={scope}",), (f"type=gha,scope={scope},mode=max",), f"GitHub Actions cache, scope {scope}"
    ref = f"{kind}-{image.name}{suffix}"
    return (f"type=registry,ref={ref}",), (f"type=registry,ref={ref},mode=max",), f"registry cache {ref}"


def release_metadata(source, version: str, image: ImageBuild, where: tuple[str, ...]) -> dict[str, object]:
    """image_target fields that stamp a published image with its commit: OCI labels, annotations, SOURCE_DATE_EPOCH.

    The labels come after the compose file's own (image_target adds them).
    `where` says which objects get the annotations ("index", "manifest"): a
    single-platform push by digest has no index of its own.
    """
    if source is None:
        return {}
    labels, annotations = oci_metadata(source, version, image.repository)
    fields: dict[str, object] = {"labels": labels, "annotations": tuple(a for a in annotations if a.split(":", 1)[0] in where)}
    if source.commit_time is not None:
        # BuildKit stamps files and the image config with this time, so
        # two builds of one commit are alike.
        fields["args"] = image.args + (("SOURCE_DATE_EPOCH", str(source.commit_time)),)
        fields["arg_sources"] = arg_sources(image) + (ArgSource("SOURCE_DATE_EPOCH", "commit time"),)
    return fields


def published_ref(registry: str, image: ImageBuild, tag: str) -> str:
    return f"{registry.rstrip('/')}/{image.repository}:{tag}"


def deploy_plan(
    images: tuple[ImageBuild, ...],
    platforms: tuple[str, ...],
    registry: str,
    tag: str,
    builder: str | None = None,
    cache: str | None = None,
    cache_root: Path | None = None,
    verify: bool = True,
    notes: tuple[str, ...] = (),
    fingerprints: dict[str, str] | None = None,
    fallback_builder: str | None = None,
    values_file: Path | None = None,
    ref_keys: tuple[tuple[str, str], ...] = (),
    source=None,
    attest: Attestations | None = None,
    signer=None,
) -> Plan:
    """`deploy-build`: every release image for every platform, pushed in one bake call.

    With `fingerprints` (image -> input hash), an image whose tag already
    carries its fingerprint is skipped when the plan runs. `ref_keys` are
    (values key, image name) pairs: the pushed ref is written into that key.
    `attest` picks BuildKit's attestations; with `signer` (polyarch.model.signing)
    each verified list is signed by digest.
    """
    attest = attest or Attestations()
    targets = []
    cache_notes = []
    for image in images:
        cache_from, cache_to, described = cache_settings(cache, registry, image, cache_root or Path("."))
        cache_notes.append(f"{image.name}: {described}")
        ref = published_ref(registry, image, tag)
        targets.append(image_target(
            image, task_platforms(image, platforms, host=False), (ref,),
            cache_from=cache_from,
            cache_to=cache_to,
            fingerprint=attest.fingerprint((fingerprints or {}).get(image.name)),
            ref=ref,
            **attest.target_fields(),
            **release_metadata(source, tag, image, ("index", "manifest")),
        ))
    # A builder that loads what it pushes into the engine (buildx' docker
    # driver) leaves the pushed tags as local names: only this run's go again.
    refs = tuple(t.ref for t in targets)
    steps: list = [KeepNames(refs, restored="after the push"),
                   Build(tuple(targets), push=True, builder=builder, skip_unchanged=bool(fingerprints),
                         fallback_builder=fallback_builder),
                   RestoreNames(refs, before="the push")]
    if verify:
        steps += [Verify(t.ref, platforms) for t in targets]
    steps += sign_steps(tuple(t.ref for t in targets), signer)
    if values_file is not None:
        by_name = {i.name: i for i in images}
        refs = tuple((key, published_ref(registry, by_name[name], tag)) for key, name in ref_keys if name in by_name)
        steps.append(UpdateValues(values_file, tag, refs))
    title = f"build and push {', '.join(i.name for i in images)}:{tag} for {', '.join(platforms)} to {registry}"
    return Plan(title, tuple(steps), notes + (attest.note(), signing_note(signer), "cache: " + "; ".join(cache_notes)))


def published_stages(stack: Stack, images: tuple[ImageBuild, ...]) -> str:
    """A note naming the stage each published image was built from (publish_target, else compose's target)."""
    def stage(image: ImageBuild) -> str:
        spec = stack.settings.images.get(image.name)
        return (spec.publish_target if spec and spec.publish_target else None) or image.target or "the Dockerfile's last stage"

    return "published from: " + ", ".join(f"{image.name} target {stage(image)}" for image in images)


@dataclass(frozen=True)
class Attestations:
    """BuildKit attestations a published image carries: SLSA provenance (in full) and an SBOM."""

    provenance: bool = True
    sbom: bool = False

    def target_fields(self) -> dict[str, object]:
        return {"provenance": self.provenance, "provenance_mode": "max" if self.provenance else None, "sbom": self.sbom}

    def fingerprint(self, inputs: str | None) -> str | None:
        """An image's input fingerprint, marked when the attestations differ from the default, so that
        turning one on or off is a change (an unchanged image is otherwise skipped)."""
        if inputs is None or self == Attestations():
            return inputs
        return f"{inputs}+provenance={str(self.provenance).lower()},sbom={str(self.sbom).lower()}"

    def note(self) -> str:
        kinds = (["provenance (mode=max)"] if self.provenance else []) + (["SBOM"] if self.sbom else [])
        return "attestations: " + (", ".join(kinds) if kinds else "none")


def sign_steps(refs: tuple[str, ...], signer) -> list:
    """One SignImage per pushed list (None: signing is not configured)."""
    if signer is None:
        return []
    return [SignImage(ref, key=signer.key, keyless=signer.keyless) for ref in refs]


def signing_note(signer) -> str:
    return f"signing: cosign, {signer.describe()}" if signer else "signing: off ([signing] in polyarch.toml turns it on)"


def prod_plan(stack: Stack, registry: str, version: str, platform: str, env_present: bool,
              public_key: Path | None = None) -> Plan:
    """`prod`: pull the published images for one platform, tag them under the prod mode's local names, restart.

    With `public_key`, every first-party image's signature is checked before
    anything is pulled, and the pull takes exactly the digest that was checked.
    """
    mode = stack.role("prod")
    steps: list = []
    if public_key is not None:
        steps += [VerifySignature(published_ref(registry, image, version), public_key) for image in mode.images]
    for image in mode.images:
        ref = published_ref(registry, image, version)
        steps.append(PullVerified(ref, platform) if public_key is not None else Pull(ref, platform))
        steps.append(Tag(ref, image.local_names))
    steps += [Pull(ref, platform, only_if_missing=True) for ref in mode.third_party]
    steps.append(ComposeDown(compose_for(stack, None, None, env_present)))
    steps.append(ComposeUp(compose_for(stack, mode, platform, env_present)))
    return Plan(f"run {registry} images at {version} for {platform}", tuple(steps),
                (published_stages(stack, mode.images),) if mode.images else ())


def publish_build_plan(stack: Stack, images: tuple[ImageBuild, ...], platform: str, registry: str, folder: Path,
                       push_by_digest: bool, cache: str | None = None, cache_root: Path | None = None,
                       source=None, version: str = "", attest: Attestations | None = None) -> Plan:
    """`publish-build`: one platform, pushed by digest only (no tag), digests recorded.

    Builders that cannot push by digest (buildx' `docker` driver) push to a
    staging repository first; the image is then copied into its own
    repository by digest, so that repository still gets no tag. With
    `source`, the image carries the commit's OCI labels and manifest
    annotations (publish-merge annotates the index). `attest` picks
    BuildKit's attestations as for deploy-build: with any, each pushed digest
    is a one-platform index (the image and its attestation manifest), which
    publish-merge accepts and merges whole.
    """
    attest = attest or Attestations()
    arch = platform.replace("/", "-")
    targets = []
    copies = []
    cache_notes = []
    for image in images:
        cache_from, cache_to, described = cache_settings(cache, registry, image, cache_root or Path("."), platform)
        cache_notes.append(f"{image.name}: {described}")
        repository = f"{registry}/{image.repository}"
        # OCI media types: a Docker v2 manifest (the docker driver's default)
        # cannot carry annotations, and a list merged from it would not either.
        if push_by_digest:
            tags: tuple[str, ...] = ()
            outputs = (f"type=image,name={repository},push-by-digest=true,name-canonical=true,push=true,oci-mediatypes=true",)
        else:
            staging = f"{registry}/{stack.name}-staging/{image.repository}"
            tags, outputs = (f"{staging}:{arch}",), ("type=image,push=true,oci-mediatypes=true",)
            copies.append(CopyByDigest(image.name, staging, repository))
        targets.append(image_target(
            image, task_platforms(image, (platform,), host=False), tags,
            outputs=outputs,
            cache_from=cache_from,
            cache_to=cache_to,
            **attest.target_fields(),
            **release_metadata(source, version, image, ("manifest",)),
        ))
    steps: tuple = (Build(tuple(targets)), *copies, RecordDigests(folder, platform, tuple(i.name for i in images)))
    if copies:
        # The docker driver also keeps each staging tag as a local name: only this run's go again.
        staged = tuple(t for target in targets for t in target.tags)
        steps = (KeepNames(staged, restored="after the push"), *steps, RestoreNames(staged, before="the push"))
    return Plan(f"build {', '.join(i.name for i in images)} for {platform} and push by digest to {registry}", steps,
                (attest.note(), "cache: " + "; ".join(cache_notes)))


def publish_merge_plan(images: tuple[ImageBuild, ...], registry: str, digests: dict[str, dict[str, str]],
                       tags: tuple[str, ...], platforms: tuple[str, ...], source=None, signer=None) -> Plan:
    """`publish-merge`: check every source, then one manifest list per image under every tag.

    With `source`, each list carries the commit's OCI annotations, its
    version being the first release tag.
    """
    checks: list = []
    creates: list = []
    verifies: list = []
    first_tags: list[str] = []
    for image in images:
        repo = f"{registry}/{image.repository}"
        sources = tuple(f"{repo}@{digests[image.name][p]}" for p in platforms)
        stamped = built_labels(source, image.repository)
        checks += [Verify(src, (p,), single=True, labels=stamped) for src, p in zip(sources, platforms)]
        refs = tuple(f"{repo}:{t}" for t in tags)
        annotations: tuple[tuple[str, str], ...] = ()
        if source is not None:
            labels, _ = oci_metadata(source, tags[0], image.repository)
            annotations = tuple((f"index:{key}", value) for key, value in labels)
        creates.append(CreateManifest(refs, sources, annotations))
        verifies += [Verify(ref, platforms) for ref in refs]
        first_tags.append(refs[0])
    # Every tag of an image names one list; a signature is stored by digest, so one per image covers them all.
    signs = sign_steps(tuple(first_tags), signer)
    title = f"merge {', '.join(platforms)} into {', '.join(tags)} for {', '.join(i.name for i in images)}"
    return Plan(title, tuple(checks + creates + verifies + signs),
                ("every source digest is checked in the registry before any tag is created",
                 *((signing_note(signer),) if signer else ())))


def built_labels(source, title: str) -> tuple[tuple[str, str], ...]:
    """The labels publish-build stamps that the merge can know too: the image's title and, in git, the commit."""
    labels = [("org.opencontainers.image.title", title)]
    if source is not None and source.revision:
        labels.append(("org.opencontainers.image.revision", source.revision))
    return tuple(labels)
