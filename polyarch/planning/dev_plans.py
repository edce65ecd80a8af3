"""Plans of the developer loop: build, dev (up), rebuild, down. Pure: from stack and options to a Plan.

No docker and no file writes here; the only inputs are the stack description
and values the task already worked out (platform, whether `.env` exists).
"""

from __future__ import annotations

from polyarch.core.errors import UsageError
from polyarch.core.progname import prog
from polyarch.model.stack import Mode, Stack
from polyarch.planning.bake_targets import host_build
from polyarch.planning.plans import Plan
from polyarch.planning.steps.compose import Compose, ComposeDown, ComposeRemove, ComposeUp
from polyarch.planning.steps.images import Pull, RemoveImages


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


def build_plan(stack: Stack, mode: Mode, platform: str, no_cache: bool = False, services: tuple[str, ...] = ()) -> Plan:
    """`build`: images only (every one, or those the named services run)."""
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
