"""What every process of the polyarch sample stack has in common.

Settings from the environment, who and where the process is (the CPU it really
runs on, ``platform.machine()``, next to the platform the image was built for,
``POLYARCH_TARGET_PLATFORM``), UTC timestamps, JSON files written atomically,
the build-info step, log lines, and the entry-point wrapper. The server and the
frontend images both copy this package in from the ``common`` build context.
"""

import datetime
import json
import os
import platform
import signal
import sys


def setting(name, default=""):
    """Return env ``name``, or ``default`` when it is unset or empty."""
    return os.environ.get(name) or default


def identity(service):
    """Who and where this process is: service, real machine, target platform, stage."""
    return {
        "service": service,
        "machine": platform.machine(),
        "target_platform": setting("POLYARCH_TARGET_PLATFORM", "unknown"),
        "stage": setting("POLYARCH_STAGE", "local"),
    }


def utc_now():
    """Current UTC time as an ISO 8601 string with a Z suffix."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.isoformat(timespec="seconds").replace("+00:00", "Z")


def read_json(path):
    """Parsed JSON at ``path``, or None if it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` through a temp file and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_json_atomic(path, data):
    """Write ``data`` as indented, key-sorted JSON to ``path``, atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def build_info():
    """The record the prod build wrote (``POLYARCH_BUILD_INFO``), or None without one."""
    return read_json(setting("POLYARCH_BUILD_INFO", "/app/BUILD_INFO.json"))


def write_build_info(path):
    """Record the stage, target platform and build time into ``path`` (build step)."""
    info = {
        "stage": setting("POLYARCH_STAGE", "local"),
        "target_platform": setting("POLYARCH_TARGET_PLATFORM", "unknown"),
        "target_arch": setting("POLYARCH_TARGET_ARCH", "unknown"),
        "build_machine": platform.machine(),
        "build_time": utc_now(),
        "python": platform.python_version(),
    }
    write_json_atomic(path, info)
    print(f"build info -> {path}: {json.dumps(info, sort_keys=True)}")


def log(service, message):
    """One line to stdout, flushed at once so container logs stay in order."""
    print(f"{utc_now()} {service} {message}", file=sys.stdout, flush=True)


def _exit_on_signal(signum, _frame):
    """Turn SIGTERM into a normal exit (PID 1 ignores it otherwise)."""
    raise SystemExit(0)


def run_main(main):
    """Run a ``python3 -m PACKAGE`` entry point: ``main(sys.argv)``, stopping quietly on SIGTERM or Ctrl-C."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        main(sys.argv)
    except KeyboardInterrupt:
        pass
