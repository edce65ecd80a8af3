"""Find the step that failed in buildx' plain progress output, to say it once in the error.

Pure: reads text. buildx prints each step as `#N [LABEL] INSTRUCTION`, where
LABEL holds the bake target, the platform and `i/n` when there are several;
a failed step prints `#N ERROR: reason`, and the Dockerfile excerpt after it
starts with `NAME:LINE`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ERROR = re.compile(r"^#(?P<vertex>\d+) ERROR: (?P<reason>.+)$", re.MULTILINE)
_LOCATION = re.compile(r"^(?P<file>[^\s:]*Dockerfile[^\s:]*):(?P<line>\d+)$", re.MULTILINE | re.IGNORECASE)
_EXIT = re.compile(r"did not complete successfully: exit code: (\d+)")
# A step that failed because a registry could not be reached: not the Dockerfile line's fault.
_UNREACHABLE = re.compile(r"no such host|dial tcp|i/o timeout|connection refused|TLS handshake timeout|network is unreachable")


@dataclass(frozen=True)
class FailedStep:
    """The first step buildx reported as failed."""

    target: str | None
    platform: str | None
    instruction: str
    reason: str
    line: int | None

    def outcome(self) -> str:
        code = _EXIT.search(self.reason)
        return f"exited with code {code.group(1)}" if code else f"failed: {self.reason}"

    @property
    def unreachable(self) -> bool:
        """Did the step fail to reach a registry (DNS, refused or timed-out connection)?"""
        return bool(_UNREACHABLE.search(self.reason))


def failed_step(text: str, targets: tuple[str, ...]) -> FailedStep | None:
    """The failed step in `text` (None when buildx reported none); `targets` are the bake target names."""
    error = _ERROR.search(text)
    if error is None:
        return None
    title = re.search(rf"^#{error['vertex']} (?:\[(?P<label>[^\]]*)\] )?(?P<instruction>.+)$", text, re.MULTILINE)
    label = (title["label"] or "") if title else ""
    words = label.split()
    named = [w for w in words if w in targets]
    target = named[0] if named else (targets[0] if len(targets) == 1 else None)
    platform = next((w for w in words if "/" in w and not re.fullmatch(r"\d+/\d+", w)), None)
    location = _LOCATION.search(text, error.end())
    return FailedStep(target, platform, title["instruction"].strip() if title else "", error["reason"].strip(),
                      int(location["line"]) if location else None)
