"""How a polyarch task is declared: `polyarch_task`, its short flags and the help texts tasks share.

`polyarch_task` wraps `invoke.task` so that every polyarch error, docker
failure and Ctrl-C becomes one printed message (ERROR + TIP) and an exit code,
with a traceback only under `invoke --debug` or POLYARCH_DEBUG=1.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Callable

from invoke import Exit, Task, task

from polyarch.adapters.locks import release_all
from polyarch.cli.signals import exit_if_reader_gone, signals_as_interrupt
from polyarch.core import console
from polyarch.core.errors import Interrupted, PolyarchError

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

# --provenance/--sbom of the tasks that publish (deploy-build, publish-build).
ATTESTATION_HELP = {
    "provenance": "Attach BuildKit's SLSA provenance (mode=max) to every image (--no-provenance leaves it out).",
    "sbom": "Attach an SBOM too (needs BuildKit's scanner image from a registry; refused when it cannot be fetched).",
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


def debugging() -> bool:
    return os.environ.get("POLYARCH_DEBUG") == "1" or logging.getLogger().isEnabledFor(logging.DEBUG)


def in_process_run() -> bool:
    """True when tasks run inside another program (tests calling invoke's Program.run)."""
    program = sys.argv[0] if sys.argv else ""
    return not (os.path.basename(program) in ("invoke", "inv") or program.endswith(os.path.join("invoke", "__main__.py")))


def polyarch_task(*args, **kwargs) -> Callable:
    """`@task` with polyarch's error handling. Use exactly like invoke's `@task(...)`."""

    def decorate(body: Callable) -> Callable:
        @functools.wraps(body)
        def wrapper(c, *a, **kw):
            restore = signals_as_interrupt()
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
            except BrokenPipeError:
                exit_if_reader_gone()
                raise
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
                release_all()
                restore()

        return task(*args, klass=PolyarchTask, **kwargs)(wrapper)

    if len(args) == 1 and callable(args[0]) and not kwargs:
        body, args = args[0], ()
        return decorate(body)
    return decorate
