"""Pure planning for the developer loop: from stack + options to a Plan.

No docker and no file writes here; the only inputs are the stack description
and values the task already worked out (platform, whether `.env` exists).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from polyarch.planning.steps.build import AddBuilderNode, ArgSource, RemoveBuilder, BakeTarget, Build
from polyarch.planning.steps.bundle import BundleSignature, LoadBundle, SaveBundle, FetchBundle, VerifyBundleSignature
from polyarch.planning.steps.release import (
    CreateManifest, RecordDigests, CopyByDigest, UpdateValues, SignImage, Verify, VerifySignature
)
from polyarch.planning.steps.images import (
    CheckImages, KeepNames, Pull, PullVerified, RemoveImages, RestoreNames, DropKeptNames, Tag
)
from polyarch.planning.steps.compose import Compose, ComposeDown, ComposeRemove, ComposeUp
from polyarch.planning.plans import Plan
from polyarch.planning.steps.files import InitEnv, WriteFiles
from polyarch.planning.release_rules import oci_metadata
from polyarch.model.stack import ImageBuild, Mode, Stack


def compose_for(stack: Stack, mode: Mode | None, platform: str | None, env_present: bool) -> Compose:
    """The compose project for a mode; with `mode=None`, every mode's files at once."""
    files = stack.all_files() if mode is None else mode.files
    variables: tuple[tuple[str, str], ...] = ()
    if mode is not None and platform:
        # Makes compose create containers (and pull third-party images)
        # for the chosen platform, native or emulated.
        variables = (("DOCKER_DEFAULT_PLATFORM", platform),)
    env_files = (stack.env_file,) if env_present else ()
    return Compose(stack.name, files, env_files, variables)


def arg_sources(image: ImageBuild) -> tuple[ArgSource, ...]:
    """Where the image's build args that compose does not give come from, for the plan's text."""
    return tuple(ArgSource(name, source) for name, source in image.arg_sources)


# Bake-target fields where polyarch's own values come after the compose build section's.
_ADDED = ("labels", "cache_from", "cache_to")


def image_target(image: ImageBuild, platforms: tuple[str, ...], tags: tuple[str, ...], **extra: object) -> BakeTarget:
    """One image's bake target: its compose build section (see polyarch.model.buildspec), plus `extra`.

    `extra` labels and cache settings are added to the compose file's own;
    any other field in `extra` is set as given.
    """
    spec = image.spec
    fields: dict[str, object] = dict(
        name=image.name, context=image.context, dockerfile=image.dockerfile, stage=image.target,
        platforms=platforms, tags=tags, args=image.args, contexts=image.contexts, services=image.services,
        dockerfile_inline=spec.dockerfile_inline, labels=spec.labels, cache_from=spec.cache_from, cache_to=spec.cache_to,
        secrets=spec.secrets, secret_env_file=spec.secret_env_file, ssh=spec.ssh, shm_size=spec.shm_size,
        ulimits=spec.ulimits, pull=spec.pull, no_cache=spec.no_cache, arg_sources=arg_sources(image),
    )
    for key, value in extra.items():
        fields[key] = fields[key] + tuple(value) if key in _ADDED else value  # type: ignore[operator, arg-type]
    return BakeTarget(**fields)  # type: ignore[arg-type]


def task_platforms(image: ImageBuild, wanted: tuple[str, ...], host: bool) -> tuple[str, ...]:
    """The platforms a task builds one image for: a pinned service's own, and only those build.platforms allows."""
    from polyarch.model.buildspec import build_platforms

    return build_platforms(image.services[0] if image.services else image.name, image.spec, wanted, host)


def host_build(mode: Mode, platform: str, no_cache: bool = False, images: tuple[ImageBuild, ...] | None = None,
               fingerprints: dict[str, str] | None = None, always: bool = False) -> Build:
    """Build the mode's first-party images (or some of them) for one platform and load them under their local names.

    With `fingerprints` (image -> input hash), each image is labelled with
    its fingerprint, and an image whose local names already carry the same
    label is not built again when the plan runs, unless `always` (`rebuild`).
    """
    from polyarch.planning.fingerprint import ANNOTATION

    chosen = mode.images if images is None else images
    fingerprints = {} if no_cache and not always else (fingerprints or {})
    # No provenance attestation on local builds: it differs on every build, so
    # the image ID would change and compose would recreate every container
    # even when nothing changed.
    targets = tuple(
        image_target(image, task_platforms(image, (platform,), host=True), image.local_names, provenance=False, fingerprint=fingerprints.get(image.name),
                     labels=((ANNOTATION, fingerprints[image.name]),) if image.name in fingerprints else ())
        for image in chosen)
    return Build(targets=targets, load=True, no_cache=no_cache, skip_unchanged=bool(fingerprints) and not always)


def build_plan(stack: Stack, mode: Mode, platform: str, no_cache: bool = False, services: tuple[str, ...] = ()) -> Plan:
    """`build`: images only (every one, or those the named services run)."""
    from polyarch.core.progname import prog
    from polyarch.core.errors import UsageError

    images = mode.images_for(services) if services else None
    if images == () or not mode.images:
        raise UsageError(f"{'The services ' + ', '.join(services) + ' run' if services else 'Mode ' + repr(mode.name) + ' has'} "
                         "no image the compose files build; they only use published images.",
                         tip=f"Name services with a build: section, or run `{prog()} dev` (or `{prog()} prod`) to pull and start published images.")
    return Plan(f"build the {mode.name} images for {platform}", (host_build(mode, platform, no_cache, images),))


def up_plan(stack: Stack, mode: Mode, platform: str, env_present: bool, build: bool = True, no_cache: bool = False,
            fresh: bool = False, fingerprints: dict[str, str] | None = None) -> Plan:
    """`dev`, `prod-build`: build for the host, then start the mode's compose files.

    `fresh` first removes the stack's containers, volumes and images and builds without cache.
    With `fingerprints`, unchanged images are not rebuilt and an up-to-date
    stack is left alone (see host_build and ComposeUp.skip_if_current).
    """
    steps: list = []
    if fresh:
        steps += down_plan(stack, env_present, volumes=True, images=True).steps
        no_cache = True
    if build and mode.images:
        steps.append(host_build(mode, platform, no_cache, fingerprints=None if fresh else fingerprints))
    # Compose pulls a missing image by name only, not by platform: fetch the
    # third-party images for the chosen platform first.
    steps += [Pull(ref, platform, only_if_missing=True) for ref in mode.third_party]
    steps.append(ComposeUp(compose_for(stack, mode, platform, env_present), skip_if_current=bool(fingerprints) and not fresh))
    return Plan(f"start the {mode.name} stack for {platform}", tuple(steps))


def rebuild_plan(stack: Stack, mode: Mode, platform: str, env_present: bool, services: tuple[str, ...],
                 fingerprints: dict[str, str] | None = None) -> Plan:
    """`rebuild`: stop and remove just these services, rebuild their images, start them again.

    The images are always built, and labelled with `fingerprints` as `dev`
    labels them, so the next `dev` sees them current.
    """
    images = mode.images_for(services)
    compose = compose_for(stack, mode, platform, env_present)
    steps: list = [ComposeRemove(compose, services)]
    if images:
        steps.append(host_build(mode, platform, images=images, fingerprints=fingerprints, always=True))
    steps.append(ComposeUp(compose, services=services))
    return Plan(f"rebuild and restart {', '.join(services)} ({mode.name}) for {platform}", tuple(steps))


def down_plan(stack: Stack, env_present: bool, volumes: bool = False, images: bool = False,
              published: tuple[str, ...] = (), local_names: tuple[str, ...] | None = None) -> Plan:
    """`down`, `clean`, `nuke`: whatever mode started the stack.

    `published` are the repositories `prod` pulls from; nuke removes their local tags too.
    `local_names` (default: every mode's) are the stack's own image names nuke removes.
    """
    steps: list = [ComposeDown(compose_for(stack, None, None, env_present), volumes=volumes)]
    if images:
        # Exactly the stack's own names: what its modes build, and what prod
        # pulled from the published repositories; never other projects' images.
        names = stack.all_local_names() if local_names is None else local_names
        steps.append(RemoveImages(names, prune_dangling=False, repositories=published))
    what = "stop the stack" + (", remove its volumes" if volumes else "") + (" and its images" if images else "")
    return Plan(what, tuple(steps))


def cache_settings(kind: str | None, registry: str, image: ImageBuild, cache_root: Path,
                   platform: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """Cache import/export for one image: (cache-from, cache-to, description).

    With `platform` (publish-build: one runner per platform) every cache is
    kept per image and platform, so parallel runners never overwrite each
    other's cache; deploy-build's one bake call shares one cache per image.
    """
    from polyarch.core.platforms import arch_name

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
    """Bake-target fields that stamp a published image with its commit: OCI labels, annotations, SOURCE_DATE_EPOCH.

    `where` says which objects get the annotations ("index", "manifest"): a
    single-platform push by digest has no index of its own.
    """
    if source is None:
        return {}
    labels, annotations = oci_metadata(source, version, image.repository)
    fields: dict[str, object] = {"labels": image.spec.labels + labels, "annotations": tuple(a for a in annotations if a.split(":", 1)[0] in where)}
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
    `attest` picks BuildKit's attestations; with `signer` (polyarch.planning.signing)
    each verified list is signed by digest.
    """
    attest = attest or Attestations()
    targets = []
    cache_notes = []
    for image in images:
        cache_from, cache_to, described = cache_settings(cache, registry, image, cache_root or Path("."))
        cache_notes.append(f"{image.name}: {described}")
        ref = published_ref(registry, image, tag)
        target = image_target(
            image, task_platforms(image, platforms, host=False), (ref,),
            cache_from=cache_from,
            cache_to=cache_to,
            fingerprint=attest.fingerprint((fingerprints or {}).get(image.name)),
            ref=ref,
            **attest.target_fields(),
        )
        targets.append(replace(target, **release_metadata(source, tag, image, ("index", "manifest"))))
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


def airtight_refs(mode: Mode) -> tuple[str, ...]:
    """Every image the airtight mode runs: local first-party names and third-party images."""
    return mode.local_names() + mode.third_party


def airtight_package_plan(stack: Stack, platform: str, version: str, folder: Path, level: int,
                          registry: str | None = None, key: Path | None = None) -> Plan:
    """`package-airtight`: build and pull for one platform, then one save into a bundle.

    With `registry`, the first-party images are the ones published there at
    `version`, and every image is read from its registry into the bundle:
    nothing is built, pulled or exported by the engine.
    """
    from polyarch.adapters.bundle import bundle_name
    from polyarch.core.platforms import arch_name

    from polyarch.planning.signing import bundle_signature

    mode = stack.role("airtight")
    bundle = folder / bundle_name(stack.name, version, arch_name(platform))
    signature = BundleSignature(key, bundle_signature(bundle)) if key is not None else None
    if registry:
        images = tuple((image.local_names, published_ref(registry, image, version)) for image in mode.images)
        images += tuple(((ref,), ref) for ref in mode.third_party)
        fetch = FetchBundle(images, bundle, bundle.with_name(bundle.name + ".sha256"), stack.name, version, platform, level,
                            signature)
        return Plan(f"package {stack.name} {version} for {platform} from {registry}", (fetch,),
                    (published_stages(stack, mode.images),) if mode.images else ())
    # Packaging (for another platform, say) must not change what the user's
    # local names run: they are noted first and put back at the end.
    names = mode.local_names()
    steps: list = [KeepNames(names), host_build(mode, platform)] if mode.images else []
    steps += [Pull(ref, platform) for ref in mode.third_party]
    steps.append(SaveBundle(airtight_refs(mode), bundle, bundle.with_name(bundle.name + ".sha256"),
                            stack.name, version, platform, level, signature))
    if mode.images:
        steps.append(RestoreNames(names))
    return Plan(f"package {stack.name} {version} for {platform}", tuple(steps))


def airtight_run_plan(stack: Stack, bundle: Path | None, platform: str, env_present: bool,
                      image_ids: tuple[tuple[str, str], ...] = (), sha256: str | None = None, start: bool = True,
                      public_key: Path | None = None) -> Plan:
    """`prod-airtight`: load (optionally), check every image is there for the platform, restart without pulling or building.

    `image_ids` are the (name, image ID) pairs the bundle's manifest promises;
    `sha256` is what its checksum file says, checked while the load reads it.
    Until the checks pass, the images the names pointed at before are kept,
    and a failed check puts them back. With `public_key`, the bundle's
    signature is checked first, before anything is loaded.
    """
    from polyarch.planning.signing import bundle_signature

    mode = stack.role("airtight")
    names = airtight_refs(mode)
    steps: list = []
    if bundle is not None and public_key is not None:
        steps.append(VerifyBundleSignature(bundle, bundle_signature(bundle), public_key))
    if bundle is not None:
        steps += [KeepNames(names, restored="if a check of the loaded images fails"), LoadBundle(bundle, sha256)]
    steps.append(CheckImages(names, tip="Pass --bundle PATH (or set AIRTIGHT_BUNDLE) to load them from an airtight bundle.",
                             platform=platform, image_ids=image_ids))
    if bundle is not None:
        steps.append(DropKeptNames(names))
    if start:
        steps.append(ComposeDown(compose_for(stack, None, None, env_present)))
        steps.append(ComposeUp(compose_for(stack, mode, platform, env_present), pull="never"))
    what = "run" if start else "load"
    return Plan(f"{what} {stack.name} offline for {platform}", tuple(steps))


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
        target = image_target(
            image, task_platforms(image, (platform,), host=False), tags,
            outputs=outputs,
            cache_from=cache_from,
            cache_to=cache_to,
            **attest.target_fields(),
        )
        targets.append(replace(target, **release_metadata(source, version, image, ("manifest",))))
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
    # Every tag of an image names one list; a signature is stored by digest, so one per image covers them all.
    signs = sign_steps(tuple(f"{registry}/{i.repository}:{tags[0]}" for i in images), signer)
    title = f"merge {', '.join(platforms)} into {', '.join(tags)} for {', '.join(i.name for i in images)}"
    return Plan(title, tuple(checks + creates + verifies + signs),
                ("every source digest is checked in the registry before any tag is created",
                 *((signing_note(signer),) if signer else ())))


def init_plan(env_file: Path, preview, changes: bool) -> Plan:
    """`init`: one InitEnv step from what `envfile.preview_init` found, or no step when the file is already right."""
    if not changes:
        return Plan(f"{env_file} already has every secret (mode 0600): nothing to write", ())
    step = InitEnv(env_file, preview.created, preview.copied_from, preview.filled, preview.kept)
    return Plan(f"{'create' if preview.created else 'update'} {env_file}", (step,))


def workflows_plan(target: Path, files: dict[str, str], current: dict[str, str | None]) -> Plan:
    """`workflows`: write each generated file whose content on disk (`current`, None when missing) differs."""
    changed = tuple((target / name, text) for name, text in files.items() if current.get(name) != text)
    unchanged = [name for name in files if current.get(name) == files[name]]
    notes = (f"unchanged: {', '.join(unchanged)}",) if unchanged else ()
    title = f"write the release workflows into {target}" if changed else f"the release workflows in {target} are current"
    return Plan(title, (WriteFiles(changed),) if changed else (), notes)


def built_labels(source, title: str) -> tuple[tuple[str, str], ...]:
    """The labels publish-build stamps that the merge can know too: the image's title and, in git, the commit."""
    labels = [("org.opencontainers.image.title", title)]
    if source is not None and source.revision:
        labels.append(("org.opencontainers.image.revision", source.revision))
    return tuple(labels)


def builder_plan(name: str, nodes: tuple[tuple[str, str], ...], exists: bool) -> Plan:
    """`builder`: one docker-container node per platform, replacing a builder of the same name."""
    steps: list = [RemoveBuilder(name)] if exists else []
    steps += [AddBuilderNode(name, platform, endpoint, append=i > 0) for i, (platform, endpoint) in enumerate(nodes)]
    return Plan(f"builder {name} with native nodes for {', '.join(p for p, _ in nodes)}", tuple(steps))
