"""What every task shares: error handling, the stack, the engine, the host platform.

`polyarch_task` wraps `invoke.task` so that every polyarch error, docker
failure and Ctrl-C becomes one printed message (ERROR + TIP) and an exit code,
with a traceback only under `invoke --debug` or POLYARCH_DEBUG=1.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

from invoke import Exit, Task, task

from polyarch.core import console
from polyarch.core.errors import Interrupted, PolyarchError
from polyarch.core.progname import prog

if TYPE_CHECKING:
    from polyarch.adapters.docker.engine import Engine
    from polyarch.core.platforms import HostPlatform
    from polyarch.execution.results import RunLog
    from polyarch.model.stack import Scope, Stack

# Task modules import only this module, console and errors at load time, so
# that `invoke --list` stays close to invoke's own start-up cost.

# Help texts shared by many tasks.
HELP = {
    "stack": "Project to use: a folder, its polyarch.toml or a compose file (default: found from here upward, or $POLYARCH_STACK).",
    "json": "With --dry-run: print the plan as one JSON document on stdout.",
    "mode": "Mode to use (a [modes] name of polyarch.toml).",
    "fresh": "Remove the stack's containers, volumes and images first, then build without cache.",
    "platform": "Build or run for this platform instead of the host's (e.g. linux/arm64, runs under emulation).",
    "dry_run": "Print the plan and change nothing.",
    "verbose": "Also print the full build definition (the bake file handed to buildx) under each build step.",
    "no_cache": "Build without the build cache.",
}


# Each short flag means one long flag in every task; a flag not named here has none.
SHORT_FLAGS = {
    "dry-run": "d",
    "json": "j",
    "stack": "s",
    "platform": "p",
    "mode": "m",
    "no-cache": "n",
    "fresh": "f",
    "registry": "r",
    "tag": "t",
    "version": "v",
    "output": "o",
    "bundle": "b",
}


class PolyarchTask(Task):
    """invoke's Task with polyarch's short flags, and help texts that survive being read twice.

    invoke's `get_arguments()` pops each help text as it reads it, so a second
    reader (the `polyarch` command reads flags before invoke parses the line)
    would see none.
    """

    def get_arguments(self, ignore_unknown_help=None):
        texts = dict(self.help)
        try:
            return super().get_arguments(ignore_unknown_help)
        finally:
            self.help = texts

    def arg_opts(self, name, default, taken_names):
        opts = super().arg_opts(name, default, taken_names)
        long = opts["names"][0]
        opts["names"] = [long, SHORT_FLAGS[long]] if long in SHORT_FLAGS else [long]
        return opts


def suggest(stack: "Stack", task: str) -> str:
    """The command line to type for `task` on this stack, with --stack when it is not found from here."""
    from pathlib import Path

    base = f"{prog()} {task}"
    try:
        Path.cwd().resolve().relative_to(stack.root.resolve())
        return base
    except ValueError:
        return f"{base} --stack {stack.source}"


def debugging() -> bool:
    return os.environ.get("POLYARCH_DEBUG") == "1" or logging.getLogger().isEnabledFor(logging.DEBUG)


def in_process_run() -> bool:
    """True when tasks run inside another program (tests calling invoke's Program.run)."""
    program = sys.argv[0] if sys.argv else ""
    return not (os.path.basename(program) in ("invoke", "inv") or program.endswith(os.path.join("invoke", "__main__.py")))


def _terminate_children() -> None:
    """Send SIGTERM to this process's descendants (Linux: read from /proc; elsewhere nothing)."""
    import signal
    from pathlib import Path

    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo, seen = [os.getpid()], set()
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    for pid in seen:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def _signals_as_interrupt() -> Callable[[], None]:
    """Treat SIGINT and SIGTERM alike while a task runs, so the same clean-up runs; returns the undo.

    The handler is installed even where SIGINT was inherited as ignored (a
    job a non-interactive shell started with `&`), which would otherwise
    let a run carry on to the end after being told to stop. Only the first
    signal interrupts: later ones must not cut the clean-up short.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    received: list[int] = []

    def interrupt(signum, frame):
        if received:
            console.warn("still cleaning up after the interruption; polyarch stops once that is done")
            return
        received.append(signum)
        # Ctrl-C reaches the whole process group, but a signal sent to our pid
        # alone (kill, a CI runner) does not: pass it on to the docker, buildx
        # and pigz processes we started.
        _terminate_children()
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}

    def undo() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    return undo


def polyarch_task(*args, **kwargs) -> Callable:
    """`@task` with polyarch's error handling. Use exactly like invoke's `@task(...)`."""

    def decorate(body: Callable) -> Callable:
        @functools.wraps(body)
        def wrapper(c, *a, **kw):
            restore = _signals_as_interrupt()
            try:
                return body(c, *a, **kw)
            except KeyboardInterrupt:
                exc = Interrupted("Interrupted; nothing was left half-written.")
                console.error(exc.message, exc.tip)
                if in_process_run():
                    raise Exit(code=exc.exit_code) from None
                # Clean-up already ran on the way out. Exit here: Python may
                # otherwise turn a Ctrl-C it saw into its own SIGINT death
                # while shutting down, losing the exit code.
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(exc.exit_code)
            except PolyarchError as exc:
                if debugging():
                    raise
                console.error(exc.message, exc.tip)
                raise Exit(code=exc.exit_code) from None
            except Exception as exc:
                # A python-on-whales error no engine method converted: still no traceback.
                if type(exc).__module__.startswith("python_on_whales") and not debugging():
                    from polyarch.adapters.docker.errors import explain

                    converted = explain(exc, "run a docker command")
                    console.error(converted.message, converted.tip)
                    raise Exit(code=1) from None
                raise
            finally:
                from polyarch.adapters.locks import release_all

                release_all()
                restore()

        return task(*args, klass=PolyarchTask, **kwargs)(wrapper)

    if len(args) == 1 and callable(args[0]) and not kwargs:
        body, args = args[0], ()
        return decorate(body)
    return decorate


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
        """`reading`: what the compose files may use (polyarch.model.stack.load_stack); publishing tasks pass "publish".

        `scope`: which modes the task runs and builds (polyarch.model.stack.Scope); None reads and checks every mode.
        """
        from polyarch.core.errors import UsageError
        from polyarch.model.stack import load_stack

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
        from polyarch.adapters.locks import acquire, lock_path

        acquire(lock_path(self.stack.root, self.stack.name), f"pid {os.getpid()}: {plan.title}",
                lambda other: console.warn(f"another polyarch run is changing the {self.stack.name} stack ({other}); waiting for it to finish"))
        if platform:
            require_platform_runs(self.engine(), platform, self.native_platform())
        return run_plan(self.engine() if plan.uses_engine else None, plan)

    def native_platform(self) -> str:
        """The platform containers run natively on (the engine's, else this machine's)."""
        return self._native().platform

    def _native(self) -> "HostPlatform":
        from polyarch.core.platforms import choose_host_platform

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
        from polyarch.core.platforms import choose_host_platform

        chosen = choose_host_platform(forced=forced) if forced else self._native()
        if chosen.warning:
            console.warn(chosen.warning)
        console.info("Platform:", emphasis=f"{chosen.platform} ({chosen.reason})")
        return chosen.platform
