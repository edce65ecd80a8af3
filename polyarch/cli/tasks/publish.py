"""Release publishing the way CI does it: per-platform builds pushed by digest, then a guarded merge."""

from __future__ import annotations

import os
from pathlib import Path

from invoke import Collection

from polyarch.adapters.digests import DEFAULT_FOLDER as DIGEST_DIR
from polyarch.adapters.digests import read_digests
from polyarch.adapters.files import writable_folder
from polyarch.adapters.git import current_ref, git_state, repo_root, source_info
from polyarch.cli.preflight import check_cache, check_sbom_scanner, check_signing
from polyarch.cli.release_inputs import attestations_for, local_cache_root, read_inputs, registry_for
from polyarch.cli.session import Session
from polyarch.cli.taskdecorator import ATTESTATION_HELP, HELP, polyarch_task
from polyarch.core import console
from polyarch.core.errors import PolyarchError, UsageError, VerificationError
from polyarch.core.platforms import parse_platform, parse_platforms
from polyarch.core.progname import prog


@polyarch_task(help={
    "platform": "The one platform to build (native on a CI runner of that arch).",
    "registry": "Registry and namespace to push to, e.g. 127.0.0.1:5000/polyarch.",
    "digest_dir": f"Where to write DIR/<image>/<arch> digest files (default: ./{DIGEST_DIR}).",
    "ref": "Git ref the release is for; its first release tag is the OCI version (default: $GITHUB_REF, else the checked-out ref).",
    "cache": "Build cache, kept per image and platform: 'gha' (GitHub Actions' cache, inside a workflow), "
             "'registry' (a :buildcache-<arch> tag), 'local' or a registry ref prefix.",
    **ATTESTATION_HELP,
    "dry_run": HELP["dry_run"],
    "json": HELP["json"],
    "stack": HELP["stack"],
    "verbose": HELP["verbose"],
})
def publish_build(c, platform, registry=None, digest_dir=DIGEST_DIR, ref=None, cache=None, provenance=True, sbom=False,
                  dry_run=False, json=False, stack=None, verbose=False):
    """Build one platform, push by digest, record the digests."""
    from polyarch.planning.release_plans import publish_build_plan
    from polyarch.planning.release_rules import release_images, release_tags

    session = Session.open(stack, dry_run, json, verbose, reading="publish")
    check_cache(cache)
    attest = attestations_for(session.stack, provenance, sbom)
    chosen = parse_platform(platform, "--platform")
    if attest.sbom and not dry_run:
        check_sbom_scanner(session.engine(), chosen)
    source = source_info(session.stack.root)
    git_ref = ref or os.environ.get("GITHUB_REF") or current_ref(session.stack.root)
    version = release_tags(git_ref, (source.revision or "0000000")[:7])[0]
    target = registry_for(session.stack, registry)
    images, _refs, notes = release_images(session.stack, *read_inputs(session.stack))
    for note in notes:
        console.info(note)
    # buildx' docker driver cannot push by digest; other drivers can. A dry
    # run only looks (no bootstrap) and assumes the docker driver if it cannot.
    try:
        driver = session.engine().builder(bootstrap=not dry_run).driver
    except PolyarchError:
        if not dry_run:
            raise
        driver = ""
    if not driver:
        # Only a dry run gets here: buildx could not say, so assume the common case.
        console.warn("buildx did not report the builder's driver; the plan assumes the docker driver (push through a staging repository)")
    push_by_digest = driver not in ("", "docker")
    if driver == "docker" and cache not in (None, "", "none"):
        check_cache(cache, driver, session.engine().info().containerd_store)
    folder = writable_folder(Path(digest_dir).resolve(), "--digest-dir", create=not dry_run)
    plan = publish_build_plan(session.stack, images, chosen, target, folder, push_by_digest, cache,
                              local_cache_root(session.stack), source, version, attest)
    results = session.carry_out(plan, chosen)
    if results is None:
        return
    from polyarch.execution.results import DigestsRecorded

    for path in results.first(DigestsRecorded).paths:
        console.emit(f"{path}: {path.read_text().strip()}")


@polyarch_task(help={
    "registry": "Registry and namespace the digests were pushed to.",
    "digest_dir": f"Folder publish-build wrote (default: ./{DIGEST_DIR}).",
    "ref": "Git ref the release is for (default: $GITHUB_REF, else the current branch).",
    "sha": "Commit the release is for (default: $GITHUB_SHA, else HEAD).",
    "platforms": "Platforms every manifest list must hold (default: the stack's).",
    "sign": "Sign every merged list with cosign when [signing] is set (--no-sign skips it).",
    "dry_run": "Print the tags and sources and push nothing.",
    "stack": HELP["stack"],
})
def publish_merge(c, registry=None, digest_dir=DIGEST_DIR, ref=None, sha=None, platforms=None, sign=True, dry_run=False,
                  stack=None):
    """Merge per-platform digests into tagged manifest lists."""
    from polyarch.model.signing import signer_for
    from polyarch.planning.release_plans import publish_merge_plan
    from polyarch.planning.release_rules import release_images, release_tags

    session = Session.open(stack, dry_run, reading="publish")
    s = session.stack
    signer = signer_for(s, sign)
    check_signing(signer, dry_run)
    # Names only: the merge builds nothing, so a build variable it lacks does not matter here.
    images, _refs, _notes = release_images(s, *read_inputs(s), building=False)
    wanted = parse_platforms(platforms, "--platforms") if platforms else s.platforms
    target = registry_for(s, registry)
    git_ref = ref or os.environ.get("GITHUB_REF") or current_ref(s.root)
    commit = sha or os.environ.get("GITHUB_SHA") or git_state(s.root).short_sha or ""
    tags = release_tags(git_ref, commit)
    digests = read_digests(Path(digest_dir), tuple(i.name for i in images), wanted)
    plan = publish_merge_plan(images, target, digests, tags, wanted, source_info(s.root), signer)
    console.info(f"ref {git_ref} -> tags {', '.join(tags)}")
    results = session.carry_out(plan)
    if results is None:
        return
    from polyarch.core.imageref import has_tag
    from polyarch.execution.results import VerifyResult

    rows = []
    for verified in results.all(VerifyResult, lambda r: has_tag(r.ref)):
        index = verified.index
        rows.append((verified.ref, ", ".join(index.platforms), index.digest or "?"))
        console.emit(f"{verified.ref}@{index.digest}")
    console.table("Published manifest lists", ("tag", "platforms", "digest"), rows)


@polyarch_task(iterable=["node"], help={
    "node": "PLATFORM=ENDPOINT, e.g. linux/arm64=ssh://me@arm-box (repeatable; one per platform).",
    "name": "Builder name (default: <stack>-native).",
    "dry_run": HELP["dry_run"],
    "stack": HELP["stack"],
})
def builder(c, node=None, name=None, dry_run=False, stack=None):
    """Make a buildx builder with a native node per platform."""
    from polyarch.planning.setup_plans import builder_plan

    session = Session.open(stack, dry_run)
    nodes = []
    for entry in node or []:
        platform, sep, endpoint = entry.partition("=")
        if not sep or not endpoint.strip():
            raise UsageError(f"--node '{entry}' must be PLATFORM=ENDPOINT, e.g. linux/arm64=ssh://me@arm-box.")
        nodes.append((parse_platform(platform, "--node"), endpoint.strip()))
    if not nodes:
        raise UsageError("Give at least one --node PLATFORM=ENDPOINT.")
    if len({p for p, _ in nodes}) != len(nodes):
        raise UsageError("Each platform may have one --node only.")
    builder_name = name or f"{session.stack.name}-native"
    exists = False if dry_run else session.engine().builder_exists(builder_name)
    plan = builder_plan(builder_name, tuple(nodes), exists)
    if session.carry_out(plan) is not None:
        console.done(f"builder {builder_name} is ready: {prog()} deploy-build --builder {builder_name}")


@polyarch_task(help={
    "check": "Compare the files with what the project describes and exit 1 on any difference; write nothing.",
    "output": "Folder to write to (default: .github/workflows at the top of the git repository, else of the project).",
    "force": "Take over files of the same names that polyarch did not write (their content is replaced).",
    "dry_run": HELP["dry_run"],
    "json": HELP["json"],
    "stack": HELP["stack"],
})
def workflows(c, check=False, output=None, force=False, dry_run=False, json=False, stack=None):
    """Write the project's GitHub Actions release workflows (or --check them)."""
    from polyarch.planning.ci_workflows import render
    from polyarch.planning.release_rules import release_images
    from polyarch.planning.setup_plans import workflows_plan

    # Only what a fresh clone has: no .env, no untracked values file, nothing
    # from this shell; so every machine computes the same files.
    session = Session.open(stack, dry_run, json, reading="committed")
    s = session.stack
    images, _refs, notes = release_images(s, *read_inputs(s, committed=True), building=False)
    top = repo_root(s.root) or s.root
    folder = s.root.resolve().relative_to(top.resolve()).as_posix() if s.root.resolve() != top.resolve() else ""
    target = Path(output).resolve() if output else top / ".github" / "workflows"
    vendored = vendors_polyarch(top)
    where = workflow_target(s, top, folder, vendored)
    files = render(s.name, tuple(i.name for i in images), s.platforms, s.settings.workflows, where, s.settings.signing)
    for warning in workflow_warnings(s, where, vendored, notes):
        console.warn(warning)
    if check:
        check_workflows(s.name, target, files)
        return
    # Also in a dry run: a dry run that passes means the real run will not be refused.
    refuse_foreign(target, files, force)
    current = {name: (target / name).read_text() if (target / name).is_file() else None for name in files}
    if session.carry_out(workflows_plan(target, files, current)) is None:
        return
    rows = [(str(target / name), "unchanged" if current[name] == text else "written") for name, text in files.items()]
    console.table("GitHub Actions workflows", ("file", "result"), rows)
    console.done(f"release workflows for {', '.join(s.platforms)}; commit them with the change that made them")


def workflow_target(s, top: Path, folder: str, vendored: bool):
    """Where the workflows run: the guard's repository and the install command (`vendored`: the repository is polyarch)."""
    from polyarch.planning.ci_workflows import Target, default_install
    from polyarch.planning.release_rules import https_source

    options = s.settings.workflows
    repository = options.repository
    if repository is None:
        url = https_source(source_info(top).remote) or ""
        if url.startswith("https://github.com/") and url.count("/") == 4:
            repository = url[len("https://github.com/"):]
    return Target(folder=folder, repository=repository, install=options.install or default_install(vendored))


def vendors_polyarch(top: Path) -> bool:
    """Whether the repository is polyarch itself (its pyproject.toml names the polyarch package)."""
    import tomllib

    try:
        data = tomllib.loads((top / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (data.get("project") or {}).get("name") == "polyarch"


def workflow_warnings(s, where, vendored: bool, notes: tuple[str, ...]) -> list[str]:
    """What would stop or change the generated jobs on a runner: the install step, variables CI lacks."""
    from polyarch.planning.ci_workflows import install_warning

    options = s.settings.workflows
    mapped = set(options.env)
    warnings = []
    problem = install_warning(where.install, vendored)
    if problem:
        warnings.append(f"{problem}. Set [workflows] install, e.g. "
                        "install = 'pip install \"polyarch @ git+https://github.com/OWNER/polyarch@vX.Y.Z\"'.")
    if where.repository is None:
        warnings.append("no [workflows] repository and no GitHub origin remote: the jobs are not guarded, so forks run them too.")
    mode = s.role("prod")
    for service, variable, _message in mode.unresolved:
        if variable not in mapped:
            warnings.append(f"the build of service '{service}' needs ${{{variable}}} ({mode.file_using(variable)}) and CI does not "
                            f"set it, so publish-build would stop: add {variable} = \"vars.{variable}\" (or secrets.) to [workflows] env.")
    for service, variable in mode.unset:
        if variable not in mapped:
            warnings.append(f"the build of service '{service}' uses ${{{variable}}} ({mode.file_using(variable)}), which CI does not "
                            f"set, so it is empty there: map it in [workflows] env, or give it a default (${{{variable}:-value}}).")
    for key, spec in (*s.settings.images.items(), *s.settings.optional.items()):
        for variable in spec.build_args.env:
            if variable not in mapped:
                warnings.append(f"build arg {variable} of {key} comes from the environment, and the workflows do not set it: "
                                f"map it in [workflows] env, or it is left out in CI.")
    warnings += [note for note in notes if "is not here" in note]
    return warnings


def check_workflows(name: str, target: Path, files: dict[str, str]) -> None:
    drift = [n for n, text in files.items() if not (target / n).is_file() or (target / n).read_text() != text]
    for n in drift:
        show_difference(target / n, files[n])
    if drift:
        raise VerificationError(f"{', '.join(drift)} in {target} differ from what the {name} project describes.",
                                tip=f"Run `{prog()} workflows` and commit the result (hand edits belong in polyarch.toml's [workflows]).")
    console.done(f"{', '.join(files)} in {target} match the project")


def refuse_foreign(target: Path, files: dict[str, str], force: bool) -> None:
    """Never overwrite a workflow polyarch did not write, unless --force takes it over."""
    from polyarch.planning.ci_workflows import owned

    foreign = [n for n in files if (target / n).is_file() and not owned((target / n).read_text())]
    if not foreign or force:
        return
    for n in foreign:
        show_difference(target / n, files[n])
    raise UsageError(
        f"{', '.join(foreign)} in {target} {'were' if len(foreign) > 1 else 'was'} not written by polyarch "
        "(no generated-by line at the top), so nothing was written.",
        tip="Name other files with [workflows] images_file / airtight_file in polyarch.toml (or --output DIR), "
            "or pass --force to replace them with the generated ones (the diff above shows what changes).")


def show_difference(path: Path, wanted: str) -> None:
    """A unified diff from the file on disk to what it should be."""
    import difflib

    have = path.read_text().splitlines(keepends=True) if path.is_file() else []
    diff = difflib.unified_diff(have, wanted.splitlines(keepends=True), str(path), f"{path} (generated)")
    console.emit("".join(diff).rstrip("\n") or f"{path} is missing")


ns = Collection("publish", publish_build, publish_merge, builder, workflows)
