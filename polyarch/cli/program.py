"""The `polyarch` command: invoke's Program with polyarch's tasks, usable in any project.

`polyarch logs api worker` reads more naturally than invoke's
`--services api,worker`, so bare words after `logs` or `build` are gathered
into that task's `--services` option before invoke parses the line.
"""

from __future__ import annotations

import sys

from polyarch import __version__
from polyarch.cli.signals import exit_if_reader_gone
from polyarch.core.progname import typed_as

# Tasks whose bare words after the task name are service names.
SERVICE_LISTS = ("logs", "build")


def gather_services(argv: list[str], value_options: dict[str, set[str]], task_names: set[str]) -> list[str]:
    """Rewrite `TASK a b --x` into `TASK --services a,b --x` for the tasks in SERVICE_LISTS.

    `value_options` maps each such task to its options that take a value, so
    that `logs --tail 5 api` keeps 5 as the tail. Pure: no invoke involved.
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        out.append(word)
        i += 1
        if word not in SERVICE_LISTS:
            continue
        takes_value = value_options.get(word, set())
        services: list[str] = []
        rest: list[str] = []
        while i < len(argv) and argv[i] not in task_names:
            item = argv[i]
            if item.startswith("-"):
                rest.append(item)
                if item in takes_value and "=" not in item and i + 1 < len(argv):
                    rest.append(argv[i + 1])
                    i += 1
            else:
                services.append(item)
            i += 1
        if services:
            out += ["--services", ",".join(services)]
        out += rest
    return out


def _value_options(namespace) -> dict[str, set[str]]:
    options: dict[str, set[str]] = {}
    for name in SERVICE_LISTS:
        task = namespace.tasks.get(name)
        if task is None:
            continue
        flags: set[str] = set()
        for argument in task.get_arguments():
            if argument.kind is not bool:
                flags.update(f"--{n.replace('_', '-')}" if len(n) > 1 else f"-{n}" for n in argument.names)
        options[name] = flags
    return options


def _program_class():
    """invoke's Program, except that a mistyped command line exits 2 (bad input) with a hint."""
    from invoke import Exit, Program
    from invoke.parser import ParseError

    def mistyped(exc: ParseError) -> Exit:
        return Exit(f"polyarch: {exc}\nSee `polyarch --list` and `polyarch --help TASK`.", code=2)

    class PolyarchProgram(Program):
        def parse_core(self, argv):
            try:
                super().parse_core(argv)
            except ParseError as exc:
                raise mistyped(exc) from None

        def parse_tasks(self):
            try:
                super().parse_tasks()
            except ParseError as exc:
                raise mistyped(exc) from None

        def parse_cleanup(self):
            # `--help NOSUCHTASK` is found here, after parsing.
            try:
                super().parse_cleanup()
            except ParseError as exc:
                raise mistyped(exc) from None

    return PolyarchProgram


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `polyarch` console script."""
    from polyarch.cli.tasks import namespace

    Program = _program_class()
    ns = namespace()
    words = list(sys.argv[1:] if argv is None else argv)
    words = gather_services(words, _value_options(ns), set(ns.task_names))
    program = Program(name="polyarch", binary="polyarch", namespace=ns, version=__version__)
    try:
        with typed_as("polyarch"):
            program.run(["polyarch", *words])
    except BrokenPipeError:
        exit_if_reader_gone()
        raise


if __name__ == "__main__":
    main()
