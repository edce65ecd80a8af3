"""Offline installs: package-airtight writes a checked bundle, prod-airtight loads and runs it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Collection

from polyarch.adapters.files import writable_folder
from polyarch.adapters.git import git_state
from polyarch.cli.release_inputs import read_inputs
from polyarch.cli.session import Session
from polyarch.cli.stack_start import print_urls, require_env
from polyarch.cli.taskdecorator import HELP, polyarch_task
from polyarch.core import console
from polyarch.core.errors import BundleError, BundleStackError, UsageError
from polyarch.core.platforms import arch_name, parse_platform
from polyarch.core.progname import prog

if TYPE_CHECKING:
    from polyarch.execution.results import RunLog


@polyarch_task(help={
    "platform": "Platform to package for (default: $PLATFORM, else this host's).",
    "version": "Version in the bundle's name (default: $VERSION, else the short git SHA, 'dev' outside git).",
    "output": "Folder to write the bundle into (default: the project folder; created if missing).",
    "registry": "Bundle the images published at REGISTRY (the first-party ones at --version) instead of building and "
                "saving them: every image is read from its registry, nothing passes through the engine.",
    "sign": "Sign the bundle with [signing] key (cosign sign-blob, offline) into <bundle>.sig (--no-sign skips it).",
    "dry_run": HELP["dry_run"],
    "json": HELP["json"],
    "stack": HELP["stack"],
    "verbose": HELP["verbose"],
})
def package_airtight(c, platform=None, version=None, output=None, registry=None, sign=True, dry_run=False, json=False,
                     stack=None, verbose=False):
    """Write an offline bundle of every image for one platform."""
    from polyarch.cli.preflight import check_signing
    from polyarch.model.loading import Scope
    from polyarch.model.signing import Signer, signer_for
    from polyarch.planning.airtight_plans import airtight_package_plan
    from polyarch.planning.release_rules import check_tag

    # Without --registry it builds the images here, so their build contexts must be here.
    session = Session.open(stack, dry_run, json, verbose, reading="publish", scope=Scope(role="airtight", builds=registry is None))
    s = session.stack
    if registry is None:
        # Built here: the variables the builds need must be set, and polyarch.toml's release build args apply.
        from polyarch.planning.release_rules import with_release_args

        s.role("airtight").require_resolved()
        s = with_release_args(s, "airtight", *read_inputs(s))
    mode = s.role("airtight")
    signer = signer_for(s, sign)
    # A bundle is signed with the key only: keyless signing is for images published from CI.
    signer = Signer(key=signer.key) if signer is not None and signer.key is not None else None
    check_signing(signer, dry_run)
    chosen = session.host_platform(platform or os.environ.get("PLATFORM") or None)
    wanted = (version or os.environ.get("VERSION") or git_state(s.root).short_sha or "dev").strip()
    check_tag(wanted)
    folder = writable_folder(Path(output).expanduser().resolve() if output else s.root, "--output", create=not dry_run)
    source = None
    if registry is not None:
        from polyarch.planning.release_rules import check_registry

        source = check_registry(registry, "--registry")
    # With the containerd image store `docker save` writes layers that are
    # already compressed; a fast gzip level then costs little size and much time.
    compressed_layers = True if (dry_run or source) else session.engine().info().containerd_store
    plan = airtight_package_plan(s, chosen, wanted, folder, level=1 if compressed_layers else 6, registry=source,
                                 key=signer.key if signer else None)
    started = time.monotonic()
    results = session.carry_out(plan, chosen, mode)
    if results is not None:
        show_bundle(plan, results, chosen, started)


def show_bundle(plan, results: RunLog, platform: str, started: float) -> None:
    """The summary of a bundle package-airtight wrote, then its path on stdout."""
    from polyarch.execution.results import BundleWritten
    from polyarch.planning.steps.bundle import FetchBundle, SaveBundle

    save = next(st for st in plan.steps if isinstance(st, (SaveBundle, FetchBundle)))
    stats = results.first(BundleWritten)
    size = save.bundle.stat().st_size
    ratio = stats.raw_bytes / size if size else 0
    console.table("Airtight bundle", ("", ""), [
        ("bundle", str(save.bundle)),
        ("checksum", str(save.checksum)),
        *([("signature", str(save.signature.path))] if save.signature else []),
        ("platform", platform),
        ("images", str(len(save.refs))),
        ("size", f"{size / 1e6:.1f} MB" + (f" (docker save wrote {stats.raw_bytes / 1e6:.1f} MB; ratio {ratio:.2f})"
                                            if isinstance(save, SaveBundle) else " (read from the registries)")),
        ("time", f"{time.monotonic() - started:.1f}s ("
                 + ("save + compress" if isinstance(save, SaveBundle) else "registry read + write") + f" {stats.seconds:.1f}s)"),
        ("on the target", f"{prog()} prod-airtight --bundle {save.bundle.name}"),
    ])
    console.emit(str(save.bundle))


def check_bundle(path, host_platform: str, insist: str | None, stack, mode):
    """Everything prod-airtight checks before it loads anything.

    Returns (manifest or None, expected sha256 or None, the (name, image ID)
    pairs the loaded images must have).

    The whole file is read once here (bounded): its sha256, and the names,
    platforms and completeness `docker load` would give, so that a bundle
    naming a foreign image is refused before it can repoint that name.
    """
    from polyarch.adapters.bundle import bundle_name, expected_checksum, read_manifest, sha256_of
    from polyarch.adapters.bundlescan import check_contents, scan_bundle
    from polyarch.planning.airtight_plans import airtight_refs

    if not path.exists():
        raise BundleError(f"The bundle {path} does not exist.", tip="Check the path (AIRTIGHT_BUNDLE or --bundle).")
    if not path.is_file():
        raise BundleError(f"{path} is not a file.")
    sha_file = path.with_name(path.name + ".sha256")
    want = expected_checksum(sha_file, path) if sha_file.is_file() else None
    if not want:
        console.warn(f"no {sha_file.name} beside the bundle; checking that the archive is complete instead")
    manifest = read_manifest(path)
    if manifest is None:
        console.warn(f"{path.name} carries no polyarch manifest: its images, names and platform are read from docker's own metadata")
    elif manifest.platform != host_platform:
        if insist != manifest.platform:
            right = bundle_name(manifest.stack, manifest.version, arch_name(host_platform))
            raise BundleError(
                f"{path.name} holds {manifest.platform} images, but this host runs {host_platform}.",
                tip=f"Use {right} instead (package it with `{prog()} package-airtight --platform {host_platform}`), "
                    f"or pass --platform {manifest.platform} to load it anyway and run it under emulation.",
            )
        console.warn(f"loading {manifest.platform} images on a {host_platform} host (--platform): they run under emulation")
    if manifest is not None:
        check_bundle_fits(manifest, stack, mode, path)
    with console.status(f"reading {path.name}: checksum, image names and platforms"):
        try:
            contents = scan_bundle(path, sha256=want is not None)
        except BundleError:
            # A damaged copy is said as such when the .sha256 shows it.
            if want:
                _refuse_mismatch(path, sha_file, sha256_of(path), want)
            raise
    _refuse_mismatch(path, sha_file, contents.sha256, want)
    if want:
        console.done(f"sha256 matches {sha_file.name}")
    check_contents(path, contents, airtight_refs(mode), manifest.platform if manifest else (insist or host_platform))
    if manifest is not None:
        console.done(f"bundle: {manifest.stack} {manifest.version} for {manifest.platform}, {len(manifest.images)} images")
        ids = {*manifest.images.items(), *manifest.configs.items()}
    else:
        ids = {(name, image_id) for image in contents.images for name in image.names for image_id in image.ids}
    return manifest, want, tuple(sorted(ids))


def _refuse_mismatch(path, sha_file, got: str, want: str | None) -> None:
    if want and got != want:
        raise BundleError(
            f"{path.name} does not match {sha_file.name} (sha256 {got[:16]}..., expected {want[:16]}...): "
            "the download is corrupt or incomplete.",
            tip="Download or copy the bundle again; nothing was loaded.",
        )


def check_bundle_fits(manifest, stack, mode, path) -> None:
    """Refuse, before loading, a bundle of another stack or one that lacks an image the airtight mode runs."""
    from polyarch.core.imageref import comparable
    from polyarch.planning.airtight_plans import airtight_refs

    if manifest.stack != stack.name:
        raise BundleStackError(
            f"{path.name} is a bundle of the '{manifest.stack}' stack, but this project's stack is named '{stack.name}' "
            f"(from {stack.name_from or 'compose'}); nothing was loaded.",
            tip=f"Use the bundle package-airtight wrote for this project, or name the stack '{manifest.stack}' on both sides "
                f"with a top-level `name: {manifest.stack}` in the compose file (or project.name in polyarch.toml, "
                f"or COMPOSE_PROJECT_NAME={manifest.stack} in .env), so that the folder's name does not matter.")
    held = {comparable(ref) for ref in manifest.images}
    missing = [ref for ref in airtight_refs(mode) if comparable(ref) not in held]
    if missing:
        raise BundleError(f"{path.name} lacks {len(missing)} image(s) the {mode.name} mode runs: {', '.join(missing)}; nothing was loaded.",
                          tip=f"Package the bundle again with `{prog()} package-airtight` from the same version of the project.")


@polyarch_task(help={
    "bundle": "Bundle to load first (default: $AIRTIGHT_BUNDLE; without one, the images must already be in the engine).",
    "platform": "Run a bundle made for this platform even if the host's differs (emulated).",
    "start": "Start the stack after loading (--no-start only checks and loads the bundle, leaving what runs alone).",
    "key": "cosign public key the bundle's <bundle>.sig must match, checked offline before loading "
           "(default: [signing] public_key).",
    "dry_run": HELP["dry_run"],
    "json": HELP["json"],
    "stack": HELP["stack"],
})
def prod_airtight(c, bundle=None, platform=None, start=True, key=None, dry_run=False, json=False, stack=None):
    """Check and load an offline bundle, then run it."""
    from polyarch.adapters.bundle import expand_user_path
    from polyarch.model.loading import Scope
    from polyarch.planning.airtight_plans import airtight_run_plan

    # It builds nothing: the build contexts (the source tree) need not be here.
    session = Session.open(stack, dry_run, json, scope=Scope(role="airtight"))
    s = session.stack
    mode = s.role("airtight")
    # Checked in a dry run too: a dry run that passes means the real run will not fail on input.
    if start:
        require_env(s)
    given = bundle or os.environ.get("AIRTIGHT_BUNDLE") or None
    path = expand_user_path(given).resolve() if given else None
    insist = parse_platform(platform, "--platform") if platform else None
    from polyarch.cli.preflight import check_verifier
    from polyarch.model.signing import public_key_for

    public_key = public_key_for(s, key)
    if key and path is None:
        raise UsageError("--key checks a bundle's signature, and no bundle was given, so there is nothing to check.",
                         tip="Pass --bundle PATH (or set AIRTIGHT_BUNDLE).")
    check_verifier(public_key if path is not None else None, dry_run)
    run_platform = session.host_platform(None)
    manifest = want = None
    image_ids: tuple[tuple[str, str], ...] = ()
    if path is not None:
        # The whole file is read now, in a dry run too; a real run checks the sha256 again while loading.
        manifest, want, image_ids = check_bundle(path, session.native_platform(), insist, s, mode)
        run_platform = manifest.platform if manifest is not None else (insist or run_platform)
    else:
        console.info("No bundle given: the images must already be in the engine.")
    plan = airtight_run_plan(s, path, run_platform, env_present=s.env_file.is_file(),
                             image_ids=image_ids,
                             sha256=want, start=start, public_key=public_key)
    if session.carry_out(plan, mode=mode) is not None and start:
        print_urls(s)


ns = Collection("airtight", package_airtight, prod_airtight)
