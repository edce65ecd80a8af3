"""Signals and locks between real processes: a task stopped by SIGTERM or SIGINT cleans up, a second run waits for the lock.

Each test starts Python processes and waits on real signals, locks and time,
so these are not unit tests (`-k unit` leaves them out; the full suite runs them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path


def test_a_second_run_waits_for_the_stack_lock(tmp_path, monkeypatch):
    """Two real processes: the second says who holds the lock and goes on only once it is released."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from polyarch.adapters.locks import acquire, lock_path, release_all
        path = lock_path(Path({str(tmp_path)!r}), "demo")
        acquire(path, sys.argv[1], lambda other: print("waiting for", other, flush=True))
        print("got", sys.argv[1], time.monotonic(), flush=True)
        time.sleep(float(sys.argv[2]))
        release_all()
    """)
    env = dict(os.environ)
    first = subprocess.Popen([sys.executable, "-c", script, "first", "1.5"], stdout=subprocess.PIPE, text=True, env=env)
    assert first.stdout.readline().startswith("got first")
    second = subprocess.run([sys.executable, "-c", script, "second", "0"], capture_output=True, text=True, env=env, timeout=30)
    first.wait(timeout=30)
    first.stdout.close()
    lines = second.stdout.splitlines()
    assert lines[0] == "waiting for first" and lines[1].startswith("got second")


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


def test_sigterm_during_a_task_runs_the_ctrl_c_clean_up(tmp_path):
    """A task body that is killed with SIGTERM exits 130 through the same path as Ctrl-C."""
    script = SLOW_TASK
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "cleaned up" in out and "Interrupted" in err


def test_sigint_interrupts_a_task_that_inherited_it_as_ignored():
    """A non-interactive shell starts `&` jobs with SIGINT ignored; `kill -INT` must still stop polyarch cleanly."""
    import signal

    proc = subprocess.Popen([sys.executable, "-c", SLOW_TASK], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "cleaned up" in out and "Interrupted" in err


def test_a_second_signal_does_not_cut_the_clean_up_short():
    import signal

    proc = subprocess.Popen([sys.executable, "-c", SLOW_TASK], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    proc.terminate()
    assert proc.stdout.readline().strip() == "cleaning up"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "cleaned up" in out, err
    assert "still cleaning up" in err


def test_sigterm_stops_the_child_processes_a_task_started(tmp_path):
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
