"""The developer loop: init, dev, build, down, logs, restart, clean, nuke, prod-build."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invoke import Collection

from polyarch import console
from polyarch.cli import HELP, Session, polyarch_task
from polyarch.errors import EnvFileError, PolyarchError

if TYPE_CHECKING:
    from polyarch.stack import Stack


def print_urls(stack: Stack) -> None:
    """Print the stack's URLs, read from .env with the description's defaults."""
    from polyarch.envfile import read_env

    values = read_env(stack.env_file)
    rows = [(label, values.get(key) or default) for label, (key, default) in stack.urls.items()]
    if rows:
        console.table("The stack is up", ("", "URL"), rows)


def run_init(stack: Stack, force: bool = False) -> None:
    from polyarch.envfile import init_env

    result = init_env(stack.env_file, stack.env_example, stack.secrets, force=force)
    if result.created:
        origin = f"from {result.copied_from.name}" if result.copied_from else "(no example file found)"
        console.done(f"created {stack.env_file} {origin}, mode 0600")
    if result.filled:
        console.done(f"generated new secrets for {', '.join(result.filled)}")
    if result.kept:
        console.info(f"kept the values already set for {', '.join(result.kept)} (--force regenerates them)")
    if not result.filled and not result.created:
        console.info(f"{stack.env_file} already has every secret; nothing to do")


def require_env(stack: Stack) -> None:
    """Refuse to start a prod mode without .env or with empty required values."""
    from polyarch.envfile import missing_required

    if not stack.env_file.is_file():
        raise EnvFileError(f"{stack.env_file} does not exist.", tip="Run `invoke init` to create it with fresh secrets.")
    missing = missing_required(stack.env_file, stack.required)
    if missing:
        raise EnvFileError(
            f"{stack.env_file} has no value for {', '.join(missing)}.",
            tip="Run `invoke init` to fill empty secrets (it keeps the values you set).",
        )


def start_mode(session: Session, mode_name: str, platform: str | None, build: bool, no_cache: bool = False) -> None:
    """Build (optionally) and start one mode for the host's platform."""
    from polyarch.planner import up_plan

    stack = session.stack
    mode = stack.mode(mode_name)
    chosen = session.host_platform(platform)
    plan = up_plan(stack, mode, chosen, env_present=stack.env_file.is_file() or session.dry_run, build=build, no_cache=no_cache)
    if session.carry_out(plan, chosen) is not None:
        print_urls(stack)


@polyarch_task(help={"force": "Regenerate every secret, even those already set.", "stack": HELP["stack"]})
def init(c, force=False, stack=None):
    """Create .env from .env.example and fill empty secrets."""
    run_init(Session.open(stack).stack, force)


@polyarch_task(help={"platform": HELP["platform"], "no_cache": HELP["no_cache"], "dry_run": HELP["dry_run"], "stack": HELP["stack"]})
def dev(c, platform=None, no_cache=False, dry_run=False, stack=None):
    """Build the dev images for this host and start the stack."""
    session = Session.open(stack, dry_run)
    if not session.stack.env_file.exists() and not dry_run:
        console.info(f"No {session.stack.env_file.name} yet: running `invoke init` first.")
        run_init(session.stack)
    start_mode(session, "dev", platform, build=True, no_cache=no_cache)


@polyarch_task(help={"platform": HELP["platform"], "no_cache": HELP["no_cache"], "dry_run": HELP["dry_run"],
                     "mode": "Which mode's images to build: dev (default) or prod.", "stack": HELP["stack"]})
def build(c, platform=None, no_cache=False, mode="dev", dry_run=False, stack=None):
    """Build the images for this host without starting them."""
    from polyarch.planner import build_plan

    session = Session.open(stack, dry_run)
    chosen = session.host_platform(platform)
    plan = build_plan(session.stack, session.stack.mode(mode), chosen, no_cache)
    if session.carry_out(plan, chosen) is not None:
        console.done(f"built {', '.join(session.stack.all_local_tags(session.stack.mode(mode).tag))}")


@polyarch_task(help={"platform": HELP["platform"], "no_cache": HELP["no_cache"], "dry_run": HELP["dry_run"], "stack": HELP["stack"]})
def prod_build(c, platform=None, no_cache=False, dry_run=False, stack=None):
    """Build the prod stages for this host and start them."""
    session = Session.open(stack, dry_run)
    if not dry_run:
        require_env(session.stack)
    start_mode(session, "prod", platform, build=True, no_cache=no_cache)


def stop(session: Session, volumes: bool = False, images: bool = False) -> None:
    from polyarch.planner import down_plan

    stack = session.stack
    plan = down_plan(stack, env_present=stack.env_file.is_file(), volumes=volumes, images=images)
    if session.carry_out(plan) is None:
        return
    left = session.engine().project_resources(stack.name)
    leftovers = left["containers"] + left["networks"] + (left["volumes"] if volumes else [])
    if leftovers:
        console.warn(f"still present after down: {', '.join(leftovers)}")
    else:
        console.done(f"the {stack.name} stack is down")


@polyarch_task(help={"dry_run": HELP["dry_run"], "stack": HELP["stack"]})
def down(c, dry_run=False, stack=None):
    """Stop and remove the stack (any mode); keep volumes."""
    stop(Session.open(stack, dry_run))


@polyarch_task(help={"dry_run": HELP["dry_run"], "stack": HELP["stack"]})
def clean(c, dry_run=False, stack=None):
    """Stop the stack and delete its volumes."""
    stop(Session.open(stack, dry_run), volumes=True)


@polyarch_task(help={"dry_run": HELP["dry_run"], "stack": HELP["stack"]})
def nuke(c, dry_run=False, stack=None):
    """Clean, then delete the stack's local images."""
    stop(Session.open(stack, dry_run), volumes=True, images=True)


@polyarch_task(
    iterable=["service"],
    help={"service": "Only this service (repeatable).", "follow": "Keep following (--no-follow prints and exits).",
          "tail": "Lines of history to show per service.", "stack": HELP["stack"]},
)
def logs(c, service=None, follow=True, tail=50, stack=None):
    """Show the last log lines of the stack and follow them."""
    from polyarch.planner import compose_for

    session = Session.open(stack)
    compose = compose_for(session.stack, None, None, session.stack.env_file.is_file())
    for line in session.engine().compose_logs(compose, list(service or []), follow, int(tail)):
        console.emit(line.rstrip("\n"))


@polyarch_task(help={"mode": "Mode to restart in (default: the one running, else dev).", "platform": HELP["platform"],
                     "dry_run": HELP["dry_run"], "stack": HELP["stack"]})
def restart(c, mode=None, platform=None, dry_run=False, stack=None):
    """Stop the stack and start it again in the same mode."""
    session = Session.open(stack, dry_run)
    if mode is None:
        mode = running_mode(session) or "dev"
        console.info("Restarting in mode", emphasis=mode)
    if mode != "dev" and not dry_run:
        require_env(session.stack)
    stop(session)
    start_mode(session, mode, platform, build=False)


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


ns = Collection("devloop", init, dev, build, down, logs, restart, clean, nuke, prod_build)
