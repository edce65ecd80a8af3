"""Signals and locks between real processes: a task stopped by SIGTERM or SIGINT cleans up, a second run waits for the lock.

Each test starts Python processes and waits on real signals, locks and time,
so these are not unit tests (`-k unit` leaves them out; the full suite runs them).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

# Holds the stack lock as argv[1]; with argv[2] == "hold", keeps it until a line (or EOF) on stdin
# (or a minute has passed, so that a broken lock fails the test instead of hanging it).
LOCKING = textwrap.dedent("""
    import select, sys, time
    from pathlib import Path
    from polyarch.adapters.locks import acquire, lock_path, release_all
    path = lock_path(Path(sys.argv[3]), "demo")
    acquire(path, sys.argv[1], lambda other: print("waiting for", other, flush=True))
    print("got", sys.argv[1], time.monotonic(), flush=True)
    if sys.argv[2] == "hold":
        select.select([sys.stdin], [], [], 60)
        print("releasing", time.monotonic(), flush=True)
    release_all()
""")


def test_a_second_run_waits_for_the_stack_lock(tmp_path, monkeypatch):
    """Two real processes: the second says who holds the lock and goes on only once it is released."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    first = subprocess.Popen([sys.executable, "-c", LOCKING, "first", "hold", str(tmp_path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    second = None
    try:
        assert first.stdout.readline().startswith("got first")
        second = subprocess.Popen([sys.executable, "-c", LOCKING, "second", "go", str(tmp_path)], stdout=subprocess.PIPE, text=True)
        waiting = second.stdout.readline()
        first_out, _ = first.communicate("\n", timeout=30)  # let the first go only now
        second_out, _ = second.communicate(timeout=30)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    lines = [waiting.rstrip("\n"), *second_out.splitlines()]
    assert lines[0] == "waiting for first" and lines[1].startswith("got second")
    # The second took the lock after the first let it go (one monotonic clock for every process).
    (released,) = [float(line.split()[1]) for line in first_out.splitlines() if line.startswith("releasing ")]
    assert float(lines[1].split()[2]) >= released


SLOW_TASK = textwrap.dedent("""
    import time
    from invoke import Collection, Program
    from polyarch.cli.taskdecorator import polyarch_task

    @polyarch_task
    def slow(c):
        try:
            print("started", flush=True)
            time.sleep(30)
        finally:
            print("cleaning up", flush=True)
            time.sleep(1)
            print("cleaned up", flush=True)

    Program(namespace=Collection(slow), name="t").run(["t", "slow"])
""")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(("signum", "preexec_fn"), [
    pytest.param(signal.SIGTERM, None, id="sigterm"),
    # A non-interactive shell starts `&` jobs with SIGINT ignored; `kill -INT` must still stop polyarch cleanly.
    pytest.param(signal.SIGINT, _ignore_sigint, id="sigint-inherited-as-ignored"),
])
def test_a_signal_during_a_task_runs_the_ctrl_c_clean_up(signum, preexec_fn):
    """A task body stopped by SIGTERM, or by SIGINT it inherited as ignored, exits 130 through the same path as Ctrl-C."""
    proc = subprocess.Popen([sys.executable, "-c", SLOW_TASK], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=preexec_fn)
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "cleaned up" in out and "Interrupted" in err


def test_a_second_signal_does_not_cut_the_clean_up_short():
    proc = subprocess.Popen([sys.executable, "-c", SLOW_TASK], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    proc.terminate()
    assert proc.stdout.readline().strip() == "cleaning up"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "cleaned up" in out, err
    assert "still cleaning up" in err


def test_sigterm_stops_the_child_processes_a_task_started():
    """SIGTERM reaches only polyarch; the children it started (docker, buildx, pigz) must stop too."""
    script = textwrap.dedent("""
        import subprocess, time
        from invoke import Collection, Program
        from polyarch.cli.taskdecorator import polyarch_task

        @polyarch_task
        def slow(c):
            child = subprocess.Popen(["sleep", "60"])
            print("child", child.pid, flush=True)
            time.sleep(60)

        Program(namespace=Collection(slow), name="t").run(["t", "slow"])
    """)
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        child = int(proc.stdout.readline().split()[1])
        proc.terminate()
        proc.communicate(timeout=30)
    assert proc.returncode == 130
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            break
        if state == "Z":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the child process is still running after SIGTERM")
