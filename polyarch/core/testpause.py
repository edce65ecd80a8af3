"""Test-only: stop a run at a named point, so a test can send it a signal exactly there.

With POLYARCH_TEST_PAUSE_AT=<point> and POLYARCH_TEST_PAUSE_MARKER=<file>,
a run that reaches that point writes the marker file and waits (at most
ten minutes) for a signal. Points: build, save, compress, publish,
restore-names. Without the variable, `pause` is one dictionary look-up.
Not for users: nothing but the tests sets it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "POLYARCH_TEST_PAUSE_AT"
MARKER_ENV = "POLYARCH_TEST_PAUSE_MARKER"
POINTS = ("build", "save", "compress", "publish", "restore-names")
_WAIT_SECONDS = 600


def pause(point: str) -> None:
    """Write the marker and wait here when the tests asked to stop at `point`."""
    if os.environ.get(ENV) != point:
        return
    Path(os.environ[MARKER_ENV]).write_text(f"{os.getpid()} {point}\n")
    deadline = time.monotonic() + _WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
