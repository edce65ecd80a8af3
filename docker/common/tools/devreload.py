"""Tiny stdlib auto-reloader for the dev stage.

Usage: python3 devreload.py COMMAND [ARG ...]

Runs COMMAND as a child process and restarts it whenever a ``.py`` file under
a watched directory changes (polling mtimes, so it also works on bind mounts
where inotify events don't arrive). If the child exits on its own, the
reloader waits for the next change before starting it again. SIGTERM/SIGINT
are passed on to the child, so ``docker stop`` is quick.

Environment:
  POLYARCH_RELOAD           "0" runs COMMAND directly with no watching (default "1")
  POLYARCH_RELOAD_WATCH     directories to watch, separated by ":" (default /app/src)
  POLYARCH_RELOAD_INTERVAL  seconds between polls (default 1.0)
"""

import os
import signal
import subprocess
import sys
import time


def snapshot(roots):
    """Map every .py file under each folder in ``roots`` to its (mtime, size)."""
    state = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    state[path] = (st.st_mtime_ns, st.st_size)
    return state


def stop(child, grace=5.0):
    """Ask the child to stop with SIGTERM, then SIGKILL it after ``grace`` seconds."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def log(message):
    """Print one reloader line to stdout."""
    print(f"[devreload] {message}", flush=True)


def main(argv):
    """Start the command, watch for changes, restart on change; return an exit code."""
    command = argv[1:]
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        sys.exit(__doc__)
    if os.environ.get("POLYARCH_RELOAD", "1") == "0":
        os.execvp(command[0], command)

    watch = os.environ.get("POLYARCH_RELOAD_WATCH", "/app/src")
    roots = [folder for folder in watch.split(os.pathsep) if folder]
    interval = float(os.environ.get("POLYARCH_RELOAD_INTERVAL", "1.0"))
    stopping = []

    def on_signal(signum, _frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log(f"watching {', '.join(roots)} for .py changes; running: {' '.join(command)}")
    seen = snapshot(roots)
    child = subprocess.Popen(command)
    reported_exit = False
    while not stopping:
        time.sleep(interval)
        if child.poll() is not None and not reported_exit:
            log(f"child exited with {child.returncode}; waiting for a change")
            reported_exit = True
        current = snapshot(roots)
        if current != seen:
            changed = sorted(set(current.items()) ^ set(seen.items()))
            seen = current
            log(f"change in {changed[0][0]}; restarting")
            stop(child)
            child = subprocess.Popen(command)
            reported_exit = False
    log("stopping")
    stop(child)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
