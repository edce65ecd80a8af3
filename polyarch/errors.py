"""Errors polyarch raises on purpose. Each carries a full-sentence message and a tip.

One place (`polyarch.cli.polyarch_task`) turns them into an exit code and a
printed message; nothing else prints errors.
"""

from __future__ import annotations


class PolyarchError(Exception):
    """Base class: something the user can fix. `tip` says how."""

    exit_code = 1

    def __init__(self, message: str, tip: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tip = tip


class PlatformError(PolyarchError):
    """A platform name or list that cannot be parsed, or a platform that cannot run."""

    exit_code = 2


class StackError(PolyarchError):
    """The stack description is missing or invalid."""

    exit_code = 2


class UsageError(PolyarchError):
    """A flag or environment variable has a value polyarch cannot use."""

    exit_code = 2


class EnvFileError(PolyarchError):
    """The .env file is missing or lacks required values."""


class EngineError(PolyarchError):
    """The Docker engine, buildx or compose failed or is not reachable.

    `transient` marks a failure worth one more try (a registry's 5xx answer).
    """

    transient = False


class VerificationError(PolyarchError):
    """Something polyarch changed did not end up as planned."""


class BundleError(PolyarchError):
    """An airtight bundle is missing, corrupt or for the wrong platform."""


class Interrupted(PolyarchError):
    """The user pressed Ctrl-C."""

    exit_code = 130
