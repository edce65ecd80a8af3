"""Plans of the airtight tasks: package a bundle (built here or read from registries), and run from one. Pure."""

from __future__ import annotations

from pathlib import Path

from polyarch.adapters.bundle import bundle_name
from polyarch.core.platforms import arch_name
from polyarch.model.stack import Mode, Stack
from polyarch.planning.bake_targets import host_build
from polyarch.planning.dev_plans import compose_for
from polyarch.planning.plans import Plan
from polyarch.planning.release_plans import published_ref, published_stages
from polyarch.planning.steps.bundle import BundleSignature, FetchBundle, LoadBundle, SaveBundle, VerifyBundleSignature
from polyarch.planning.steps.compose import ComposeDown, ComposeUp
from polyarch.planning.steps.images import CheckImages, DropKeptNames, KeepNames, Pull, RestoreNames


def bundle_signature(bundle: Path) -> Path:
    """Where a bundle's signature lives: beside it, `<bundle>.sig`."""
    return bundle.with_name(bundle.name + ".sig")


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
