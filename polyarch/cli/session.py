"""One task run: the stack it works on, the engine it uses lazily, the platform it runs for."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from polyarch.adapters.locks import acquire, lock_path
from polyarch.core import console
from polyarch.core.errors import PolyarchError, UsageError
from polyarch.core.platforms import HostPlatform, choose_host_platform
from polyarch.core.progname import prog

if TYPE_CHECKING:
    from polyarch.adapters.docker.engine import Engine
    from polyarch.execution.results import RunLog
    from polyarch.model.loading import Scope
    from polyarch.model.stack import Stack


def suggest(stack: "Stack", task: str) -> str:
    """The command line to type for `task` on this stack, with --stack when it is not found from here."""
    base = f"{prog()} {task}"
    try:
        Path.cwd().resolve().relative_to(stack.root.resolve())
        return base
    except ValueError:
        return f"{base} --stack {stack.source}"


def _hide_secrets(env: dict[str, str], keys: tuple[str, ...]) -> None:
    """Hide the secret values of `.env`, and the declared ones of the environment (compose prefers those)."""
    console.hide_secrets(env, keys)
    console.hide_secrets({key: os.environ[key] for key in keys if key in os.environ}, keys)


@dataclass
class Session:
    """One task run: the stack description, a lazily created engine, the chosen platform."""

    stack: "Stack"
    dry_run: bool = False
    as_json: bool = False
    verbose: bool = False
    _engine: "Engine | None" = field(default=None, repr=False)
    _host: "HostPlatform | None" = field(default=None, repr=False)

    @classmethod
    def open(cls, stack_path: str | None = None, dry_run: bool = False, as_json: bool = False, verbose: bool = False,
             reading: str = "run", scope: "Scope | None" = None) -> "Session":
        """`reading`: what the compose files may use (polyarch.model.loading.load_stack); publishing tasks pass "publish".

        `scope`: which modes the task runs and builds (polyarch.model.loading.Scope); None reads and checks every mode.
        """
        from polyarch.model.loading import load_stack

        if as_json and not dry_run:
            raise UsageError("--json prints a plan, so it needs --dry-run.", tip="Add --dry-run.")
        return cls(load_stack(stack_path, on_env=_hide_secrets, reading=reading, scope=scope), dry_run, as_json, verbose)

    def engine(self) -> "Engine":
        if self._engine is None:
            from polyarch.adapters.docker.engine import Engine

            self._engine = Engine()
        return self._engine

    def carry_out(self, plan, platform: str | None = None, mode=None) -> RunLog | None:
        """Print the plan; in a real run, execute it and return the log of the steps' results.

        The one place that decides between a dry run and a real one. With
        `platform`, a real run first checks that this host can build and run it.
        With --json, a dry run prints the plan as JSON on stdout instead.
        """
        # What is shown has the secret values replaced; what runs keeps them.
        shown = console.hidden(plan)
        if self.as_json:
            from polyarch.cli.plandoc import plan_document

            console.emit_json(plan_document(self.stack, shown, mode))
            return None
        from polyarch.cli.planview import show_plan

        show_plan(shown, self.dry_run, self.verbose)
        if self.dry_run:
            return None
        from polyarch.execution.doctor import require_platform_runs
        from polyarch.execution.runner import run_plan

        acquire(lock_path(self.stack.root, self.stack.name), f"pid {os.getpid()}: {plan.title}",
                lambda other: console.warn(f"another polyarch run is changing the {self.stack.name} stack ({other}); waiting for it to finish"))
        if platform:
            require_platform_runs(self.engine(), platform, self.native_platform())
        return run_plan(self.engine() if plan.uses_engine else None, plan)

    def native_platform(self) -> str:
        """The platform containers run natively on (the engine's, else this machine's)."""
        return self._native().platform

    def _native(self) -> "HostPlatform":
        if self._host is None:
            if self.dry_run and self._engine is None:
                # The same answer as Engine.info(), without starting python-on-whales.
                from polyarch.adapters.docker.engine import engine_arch

                self._host = choose_host_platform(engine_arch=engine_arch())
            else:
                self._host = choose_host_platform(engine_arch=self.engine().info().arch)
        return self._host

    def host_platform(self, forced: str | None = None) -> str:
        """The platform host-scoped tasks use; says which and why."""
        chosen = choose_host_platform(forced=forced) if forced else self._native()
        if chosen.warning:
            console.warn(chosen.warning)
        console.info("Platform:", emphasis=f"{chosen.platform} ({chosen.reason})")
        return chosen.platform


def stack_if_any(stack_path: str | None) -> "Stack | None":
    """The project found here, or None when there is none.

    A --stack or $POLYARCH_STACK that names nothing, or a broken project, is
    still an error: only "there is no project" gives None. Read as publishing
    reads it: its users (verify, doctor) run nothing, so a runtime variable
    missing here (no .env in CI) must not stop them.
    """
    from polyarch.model.project import ENV_VAR, find_project

    if not (stack_path or os.environ.get(ENV_VAR)):
        try:
            find_project()
        except PolyarchError:
            return None
    return Session.open(stack_path, reading="publish").stack
