"""The program name the user typed, for messages that tell them what to run next."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

# The program the user typed, when an entry point knows it (polyarch.cli.program.main sets "polyarch").
_PROGRAM: list[str] = []


def prog() -> str:
    """The command the user typed: `polyarch`, else `invoke` (for tips such as "run `invoke init`")."""
    if _PROGRAM:
        return _PROGRAM[-1]
    return "polyarch" if os.path.basename(sys.argv[0] if sys.argv else "") == "polyarch" else "invoke"


@contextlib.contextmanager
def typed_as(program: str) -> Iterator[None]:
    """Messages inside the block name `program` as the command to type."""
    _PROGRAM.append(program)
    try:
        yield
    finally:
        _PROGRAM.pop()
