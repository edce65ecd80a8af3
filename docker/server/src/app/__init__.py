"""polyarch sample server: one image, three roles (api, worker, scheduler).

Every role reports which CPU it really runs on (``platform.machine()``) next to
the platform the image was built for (``POLYARCH_TARGET_PLATFORM``), so a
mixed or emulated deployment is easy to spot. What the roles share with the
frontend lives in ``samplekit`` (the ``common`` build context).
"""

from samplekit import setting

HEARTBEAT_SERVICES = ("worker", "scheduler")


def heartbeat_dir():
    """Directory shared by the worker, the scheduler and the api."""
    return setting("POLYARCH_HEARTBEAT_DIR", "/var/lib/polyarch/heartbeats")
