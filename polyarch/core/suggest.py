"""A "did you mean" hint for a mistyped name."""

from __future__ import annotations

import difflib
from typing import Any


def did_you_mean(word: str, options: Any) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
