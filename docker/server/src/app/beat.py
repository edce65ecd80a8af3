"""Worker and scheduler roles: loops that publish a heartbeat file.

Every ``POLYARCH_HEARTBEAT_INTERVAL`` seconds (default 2) the loop writes
``<POLYARCH_HEARTBEAT_DIR>/<service>.json`` atomically; the api reads these to
decide whether the stack is healthy.
"""

import os
import platform
import time

from app import heartbeat_dir
from samplekit import identity, log, setting, utc_now, write_json_atomic


def heartbeat(service, ticks):
    """The JSON document one heartbeat carries."""
    beat = identity(service)
    beat.update({
        "pid": os.getpid(),
        "hostname": platform.node(),
        "timestamp": time.time(),
        "time": utc_now(),
        "ticks": ticks,
        "shared_secret_configured": bool(setting("WORKER_SHARED_SECRET")),
    })
    return beat


def run(service):
    """Write a heartbeat for ``service`` forever, one every interval."""
    interval = float(setting("POLYARCH_HEARTBEAT_INTERVAL", "2"))
    path = os.path.join(heartbeat_dir(), f"{service}.json")
    me = identity(service)
    log(service, f"started pid={os.getpid()} machine={me['machine']} "
                 f"target={me['target_platform']} stage={me['stage']} -> {path}")
    ticks = 0
    while True:
        ticks += 1
        try:
            write_json_atomic(path, heartbeat(service, ticks))
        except OSError as exc:
            log(service, f"heartbeat write failed: {exc}")
        if ticks == 1 or ticks % 30 == 0:
            log(service, f"heartbeat #{ticks}")
        time.sleep(interval)
