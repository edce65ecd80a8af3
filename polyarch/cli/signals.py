"""SIGINT and SIGTERM while a task runs: either one interrupts it once, and reaches the processes it started.

Also a closed stdout (`polyarch ... | head`), which ends the run quietly.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
from pathlib import Path
from typing import Callable

from polyarch.core import console


def terminate_children() -> None:
    """Send SIGTERM to this process's descendants (Linux: read from /proc; elsewhere nothing)."""
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


def signals_as_interrupt() -> Callable[[], None]:
    """Treat SIGINT and SIGTERM alike while a task runs, so the same clean-up runs; returns the undo.

    The handler is installed even where SIGINT was inherited as ignored (a
    job a non-interactive shell started with `&`), which would otherwise
    let a run carry on to the end after being told to stop. Only the first
    signal interrupts: later ones must not cut the clean-up short.
    """
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
        terminate_children()
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}

    def undo() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    return undo


# The status a shell reports for a command that SIGPIPE stopped (128 + 13).
EXIT_BROKEN_PIPE = 141


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reading end is closed (poll flags an error or hang-up on it)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        events = poller.poll(0)
    except (AttributeError, OSError, ValueError):  # no poll() on this system, or stdout is not a real file
        return False
    return any(mask & (select.POLLERR | select.POLLHUP) for _, mask in events)


def exit_if_reader_gone() -> None:
    """After a BrokenPipeError: if stdout's reader closed it (`| head`), stop quietly with 141, as `ls | head` does.

    Otherwise return, and the caller re-raises: a broken pipe to a child
    process or a socket is a real failure, not a reader that had enough.
    """
    if not stdout_reader_gone():
        return
    # Point stdout at /dev/null so the interpreter's final flush cannot raise a second time.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_BROKEN_PIPE)
