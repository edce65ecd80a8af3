"""The developer loop: init, dev, build, down, logs, restart, clean, nuke, prod-build."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from invoke import Collection

from polyarch.cli.release_inputs import pull_registry_for
from polyarch.cli.session import Session, suggest
from polyarch.cli.stack_start import print_urls, require_env
from polyarch.cli.taskdecorator import HELP, polyarch_task
from polyarch.core import console
from polyarch.core.errors import PolyarchError, UsageError
from polyarch.core.progname import prog

if TYPE_CHECKING:
    from polyarch.model.stack import Mode, Stack


def run_init(stack: Stack, force: bool = False) -> None:
    from polyarch.model.envfile import init_env

    report_init(stack, init_env(stack.env_file, stack.env_example, stack.secrets, force=force))


def report_init(stack: Stack, result) -> None:
    """Say what init did (key names only, never a value)."""
    from polyarch.model.envfile import read_env

    # The stack was read before these values existed: hide them from now on (compose output, errors).
    console.hide_secrets(read_env(stack.env_file), (*stack.secrets, *stack.required))
    if result.created:
        origin = f"from {result.copied_from.name}" if result.copied_from else "(no example file found)"
        console.done(f"created {stack.env_file} {origin}, mode 0600")
    if result.filled:
        console.done(f"generated new secrets for {', '.join(result.filled)}")
    if result.kept:
        console.info(f"kept the values already set for {', '.join(result.kept)} (--force regenerates them)")
    if not result.filled and not result.created:
        console.info(f"{stack.env_file} already has every secret; nothing to do")


def split_services(text: str | None) -> tuple[str, ...]:
    """'api,worker' or 'api worker' -> ('api', 'worker')."""
    return tuple(dict.fromkeys(p for p in (text or "").replace(",", " ").split() if p))


def host_fingerprints(images, platform: str) -> dict[str, str]:
    """The input fingerprint of each image as a host task builds it: the `dev.polyarch.inputs` label's value."""
    from polyarch.planning.bake_targets import task_platforms
    from polyarch.model.fingerprint import image_fingerprints

    return image_fingerprints(images, lambda image: task_platforms(image, (platform,), host=True))


def start_mode(session: Session, mode, platform: str | None, build: bool, no_cache: bool = False, fresh: bool = False,
               creates_env: bool = False) -> None:
    """Build (optionally) and start one mode for the host's platform.

    `creates_env`: a real run creates .env before this (dev runs init), so a
    dry run plans with it exactly as the real run will.
    """
    from polyarch.planning.dev_plans import up_plan

    stack = session.stack
    chosen = session.host_platform(platform)
    # The inputs of each image: an image whose local names carry the same is
    # not rebuilt, and a stack already running all of them is left alone.
    fingerprints = None if (no_cache or fresh or not build) else host_fingerprints(mode.images, chosen)
    plan = up_plan(stack, mode, chosen, env_present=stack.env_file.is_file() or (session.dry_run and creates_env), build=build,
                   no_cache=no_cache, fresh=fresh, fingerprints=fingerprints)
    if session.dry_run and creates_env:
        plan = replace(plan, notes=(f"first: {stack.env_file.name} does not exist yet, so `{prog()} init` creates it "
                                    f"from {stack.env_example.name} with fresh secrets", *plan.notes))
    if session.carry_out(plan, chosen, mode) is not None:
        print_urls(stack)


def open_for(stack_path, role: str | None, mode: str | None = None, builds: bool = False, *flags) -> Session:
    """A session that reads the mode the task runs (`mode`, else the role's) and checks its builds only when it builds."""
    from polyarch.model.loading import Scope

    return Session.open(stack_path, *flags, scope=Scope(role=role, mode=mode, builds=builds))


def open_to_build(stack_path, role: str, mode: str | None, *flags) -> tuple[Session, Mode]:
    """A session for a task that builds and runs one mode (`mode`, else the role's), checking its builds; and that mode."""
    session = open_for(stack_path, role, mode, True, *flags)
    return session, session.stack.mode(mode) if mode else session.stack.role(role)


def warn_unread(stack: Stack) -> None:
    """Name the modes left out because compose could not read them (their containers and images are not covered)."""
    for name, exc in stack.unread.items():
        console.warn(f"mode '{name}' is left out: {exc.message}")


@polyarch_task(help={"force": "Regenerate every secret, even those already set.", "dry_run": HELP["dry_run"],
                     "json": HELP["json"], "stack": HELP["stack"]})
def init(c, force=False, dry_run=False, json=False, stack=None):
    """Create .env from .env.example and fill empty secrets."""
    from polyarch.model.envfile import InitResult, init_needs_writing, preview_init
    from polyarch.model.loading import Scope
    from polyarch.planning.setup_plans import init_plan

    # No compose file is read: init is what makes them readable on a fresh clone.
    session = Session.open(stack, dry_run, json, scope=Scope(compose=False))
    s = session.stack
    preview = preview_init(s.env_file, s.env_example, s.secrets, force=force)
    plan = init_plan(s.env_file, preview, init_needs_writing(s.env_file, preview))
    results = session.carry_out(plan)
    if results is not None:
        # What was done, which differs from the plan when another run created .env meanwhile.
        report_init(s, results.last(InitResult) or preview)


@polyarch_task(help={"platform": HELP["platform"], "no_cache": HELP["no_cache"], "fresh": HELP["fresh"], "mode": HELP["mode"] + " Default: the dev mode.",
                     "dry_run": HELP["dry_run"], "json": HELP["json"], "stack": HELP["stack"], "verbose": HELP["verbose"]})
def dev(c, platform=None, no_cache=False, fresh=False, mode=None, dry_run=False, json=False, stack=None, verbose=False):
    """Build the dev images for this host and start the stack."""
    session, chosen_mode = open_to_build(stack, "dev", mode, dry_run, json, verbose)
    runs_init = not session.stack.env_file.exists() and session.stack.env_example.is_file()
    if runs_init and not dry_run:
        console.info(f"No {session.stack.env_file.name} yet: running `{prog()} init` first.")
        run_init(session.stack)
    start_mode(session, chosen_mode, platform, build=True, no_cache=no_cache, fresh=fresh, creates_env=runs_init)


@polyarch_task(help={"services": "Only the images these services run (comma-separated).", "platform": HELP["platform"],
                     "no_cache": HELP["no_cache"], "dry_run": HELP["dry_run"], "json": HELP["json"],
                     "mode": HELP["mode"] + " Default: the dev mode.", "stack": HELP["stack"], "verbose": HELP["verbose"]})
def build(c, services=None, platform=None, no_cache=False, mode=None, dry_run=False, json=False, stack=None, verbose=False):
    """Build the images for this host without starting them."""
    from polyarch.planning.dev_plans import build_plan

    session, chosen_mode = open_to_build(stack, "dev", mode, dry_run, json, verbose)
    chosen = session.host_platform(platform)
    plan = build_plan(session.stack, chosen_mode, chosen, no_cache, split_services(services))
    if session.carry_out(plan, chosen, chosen_mode) is not None:
        console.done(f"built {', '.join(t for step in plan.steps for target in step.targets for t in target.tags)}")


@polyarch_task(positional=["services"], help={
    "services": "Services to rebuild and restart, comma-separated (e.g. api or api,worker).",
    "platform": HELP["platform"], "mode": HELP["mode"] + " Default: the dev mode.",
    "dry_run": HELP["dry_run"], "json": HELP["json"], "stack": HELP["stack"], "verbose": HELP["verbose"]})
def rebuild(c, services, platform=None, mode=None, dry_run=False, json=False, stack=None, verbose=False):
    """Stop, rebuild and start just some services."""
    from polyarch.planning.dev_plans import rebuild_plan

    session, chosen_mode = open_to_build(stack, "dev", mode, dry_run, json, verbose)
    names = split_services(services)
    if not names:
        raise UsageError(f"Name at least one service to rebuild, e.g. `{prog()} rebuild api`.")
    chosen = session.host_platform(platform)
    # Fingerprinted over the whole mode, so an image built from a sibling counts that sibling as dev does.
    wanted = {image.name for image in chosen_mode.images_for(names)}
    fingerprints = {name: fp for name, fp in host_fingerprints(chosen_mode.images, chosen).items() if name in wanted}
    plan = rebuild_plan(session.stack, chosen_mode, chosen, session.stack.env_file.is_file(), names, fingerprints)
    if session.carry_out(plan, chosen, chosen_mode) is not None:
        console.done(f"rebuilt and restarted {', '.join(names)}")


@polyarch_task(help={"platform": HELP["platform"], "no_cache": HELP["no_cache"], "fresh": HELP["fresh"],
                     "mode": HELP["mode"] + " Default: the prod mode.",
                     "dry_run": HELP["dry_run"], "json": HELP["json"], "stack": HELP["stack"], "verbose": HELP["verbose"]})
def prod_build(c, platform=None, no_cache=False, fresh=False, mode=None, dry_run=False, json=False, stack=None, verbose=False):
    """Build the prod stages for this host and start them."""
    session, chosen_mode = open_to_build(stack, "prod", mode, dry_run, json, verbose)
    # Checked in a dry run too: a dry run that passes means the real run will not fail on input.
    require_env(session.stack)
    start_mode(session, chosen_mode, platform, build=True, no_cache=no_cache, fresh=fresh)


def published_repositories(stack: Stack) -> tuple[str, ...]:
    """The repositories `prod` pulls this stack's images from, when a registry is known."""
    try:
        registry = pull_registry_for(stack, None)
        mode = stack.role("prod")
    except PolyarchError:
        return ()
    return tuple(f"{registry}/{image.repository}" for image in mode.images)


def stop(session: Session, volumes: bool = False, images: bool = False) -> None:
    from polyarch.planning.dev_plans import down_plan

    stack = session.stack
    warn_unread(stack)
    names = None
    if images:
        from polyarch.model.composecache import compose_config_reader

        # Services under a profile no mode turns on still built images under the stack's names.
        names = stack.every_profile_local_names(compose_config_reader(stack.root, stack.env_file, stack.env_example,
                                                                      all_profiles=True))
    plan = down_plan(stack, env_present=stack.env_file.is_file(), volumes=volumes, images=images,
                     published=published_repositories(stack) if images else (), local_names=names)
    if session.carry_out(plan, mode=None) is None:
        return
    left = session.engine().project_resources(stack.name)
    leftovers = left["containers"] + left["networks"] + (left["volumes"] if volumes else [])
    if leftovers:
        console.warn(f"still present after down: {', '.join(leftovers)}")
    else:
        console.done(f"the {stack.name} stack is down")


@polyarch_task(help={"dry_run": HELP["dry_run"], "json": HELP["json"], "stack": HELP["stack"]})
def down(c, dry_run=False, json=False, stack=None):
    """Stop and remove the stack (any mode); keep volumes."""
    stop(open_for(stack, None, None, False, dry_run, json))


@polyarch_task(help={"dry_run": HELP["dry_run"], "json": HELP["json"], "stack": HELP["stack"]})
def clean(c, dry_run=False, json=False, stack=None):
    """Stop the stack and delete its volumes."""
    stop(open_for(stack, None, None, False, dry_run, json), volumes=True)


@polyarch_task(help={"dry_run": HELP["dry_run"], "json": HELP["json"], "stack": HELP["stack"]})
def nuke(c, dry_run=False, json=False, stack=None):
    """Clean, then delete the stack's local images."""
    stop(open_for(stack, None, None, False, dry_run, json), volumes=True, images=True)


@polyarch_task(
    help={"services": "Only these services (comma-separated; the polyarch command also takes them as bare words: logs api worker).",
          "follow": "Keep following (--no-follow prints and exits).",
          "tail": "Lines of history to show per service (a number, or 'all').", "stack": HELP["stack"]},
)
def logs(c, services=None, follow=True, tail="50", stack=None):
    """Show the last log lines of the stack and follow them."""
    from polyarch.planning.dev_plans import compose_for

    tail = str(tail).strip()
    if tail != "all" and not tail.isdigit():
        raise UsageError(f"--tail must be a number of lines or 'all', not '{tail}'.")
    session = open_for(stack, None)
    names = split_services(services)
    known = {s for m in session.stack.modes.values() for s in m.services}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"The stack has no service {', '.join(unknown)} (services: {', '.join(sorted(known))}).")
    if not session.engine().project_resources(session.stack.name)["containers"]:
        # compose would print nothing and exit 0: say why there is nothing to show.
        console.info(f"The {session.stack.name} stack has no containers, so there are no logs; "
                     f"`{suggest(session.stack, 'dev')}` starts it.")
        return
    compose = compose_for(session.stack, None, None, session.stack.env_file.is_file())
    for line in session.engine().compose_logs(compose, list(names), follow, tail):
        console.emit(line.rstrip("\n"))


@polyarch_task(help={"mode": "Mode to restart in (default: the one running, else dev).", "platform": HELP["platform"],
                     "dry_run": HELP["dry_run"], "stack": HELP["stack"]})
def restart(c, mode=None, platform=None, dry_run=False, stack=None):
    """Stop the stack and start it again in the same mode."""
    session = open_for(stack, None, mode, False, dry_run)
    if mode is None:
        mode = running_mode(session) or session.stack.roles.get("dev") or next(iter(session.stack.modes))
        console.info("Restarting in mode", emphasis=mode)
    chosen_mode = session.stack.mode(mode)
    if mode != session.stack.roles.get("dev"):
        require_env(session.stack)
    stop(session)
    start_mode(session, chosen_mode, platform, build=False)


def running_mode(session: Session) -> str | None:
    """The mode whose compose files the running containers were started from (a read, also in dry runs)."""
    try:
        files = session.engine().project_config_files(session.stack.name)
    except PolyarchError:
        if session.dry_run:
            return None
        raise
    if not files:
        return None
    for name, mode in session.stack.modes.items():
        if {str(f) for f in mode.files} == set(files):
            return name
    return None


ns = Collection("devloop", init, dev, build, rebuild, down, logs, restart, clean, nuke, prod_build)
