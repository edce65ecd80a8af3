"""polyarch sample server: one image, three roles (api, worker, scheduler).

Every role reports which CPU it really runs on (``platform.machine()``) next to
the platform the image was built for (``POLYARCH_TARGET_PLATFORM``), so a
mixed or emulated deployment is easy to spot.
"""

import datetime
import json
import os
import platform
import sys

HEARTBEAT_SERVICES = ("worker", "scheduler")


def setting(name, default=""):
    """Return env ``name``, or ``default`` when it is unset or empty."""
    return os.environ.get(name) or default


def heartbeat_dir():
    """Directory shared by the worker, the scheduler and the api."""
    return setting("POLYARCH_HEARTBEAT_DIR", "/var/lib/polyarch/heartbeats")


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


def write_json_atomic(path, data):
    """Write ``data`` as JSON to ``path`` through a temp file and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


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
