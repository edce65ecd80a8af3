"""Environment variables set only while some docker commands run."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator


@contextlib.contextmanager
def environment(variables: tuple[tuple[str, str], ...]) -> Iterator[None]:
    """Set variables for the docker commands run inside the block, then restore."""
    saved = {k: os.environ.get(k) for k, _ in variables}
    os.environ.update(dict(variables))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
