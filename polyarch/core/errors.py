"""Errors polyarch raises on purpose. Each carries a full-sentence message and a tip.

One place (`polyarch.cli.taskdecorator.polyarch_task`) turns them into an exit code and a
printed message; nothing else prints errors.
"""

from __future__ import annotations

from polyarch.core.progname import prog


class PolyarchError(Exception):
    """Base class: something the user can fix. `tip` says how."""

    exit_code = 1
    # Said when the raiser has no more specific advice: every error ends with a TIP.
    # `{prog}` becomes the command the user typed (polyarch or invoke).
    default_tip = "Fix what the message names and run the task again."

    def __init__(self, message: str, tip: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tip = tip or self.default_tip.format(prog=prog())


class PlatformError(PolyarchError):
    """A platform name or list that cannot be parsed, or a platform that cannot run."""

    exit_code = 2
    default_tip = "Platforms look like linux/amd64, linux/arm64 or linux/arm/v7; `{prog} doctor --platforms ...` says which ones this machine can build."


class StackError(PolyarchError):
    """The stack description is missing or invalid."""

    exit_code = 2
    default_tip = "Fix the compose file or the polyarch.toml key named above, then run the task again."


class UsageError(PolyarchError):
    """A flag or environment variable has a value polyarch cannot use."""

    exit_code = 2
    default_tip = "`{prog} --help TASK` lists the task's flags and the values they take."


class EnvFileError(PolyarchError):
    """The .env file is missing or lacks required values."""

    default_tip = ("Fix the file named above, or move it aside and run `{prog} init` to write a fresh one "
                   "from the example file project.env_example names (.env.example unless set).")


class EngineError(PolyarchError):
    """The Docker engine, buildx or compose failed or is not reachable.

    `transient` marks a failure worth one more try (a registry's 5xx answer).
    """

    transient = False
    # Docker's own words are in the message; `doctor` is named only where the engine itself is the problem.
    default_tip = "Docker's message above names the cause; fix it and run the task again."


class MissingTagError(EngineError):
    """A registry holds no image under the tag asked for; `ref` is that image reference."""

    def __init__(self, ref: str, message: str | None = None, tip: str | None = None) -> None:
        super().__init__(message or f"{ref} is not in its registry (no such tag).", tip)
        self.ref = ref


class VerificationError(PolyarchError):
    """Something polyarch changed did not end up as planned."""

    default_tip = "Nothing after the failed check was done; run the task again, and if it fails the same way, run it with POLYARCH_DEBUG=1 and report the output."


class BundleError(PolyarchError):
    """An airtight bundle is missing, corrupt or for the wrong platform."""

    default_tip = "Copy the bundle again together with its .sha256, or make a new one with `{prog} package-airtight --platform P`."


class BundleStackError(BundleError):
    """A bundle made for a stack of another name (bad input: the names must agree)."""

    exit_code = 2


class Interrupted(PolyarchError):
    """The user pressed Ctrl-C."""

    exit_code = 130
    default_tip = ("polyarch removed its temporary files and put back any local image names it had moved aside; "
                   "run the same `{prog}` command again to resume: it starts over, and finished build steps come from the build cache.")


class SignatureError(PolyarchError):
    """A signature is missing, does not match the key, or cosign could not make or check one.

    `reason` is cosign's own error line when cosign ran and refused.
    """

    reason: str | None = None

    default_tip = ("Check that the public key belongs to the key the artifact was signed with "
                   "([signing] public_key or --key), and that cosign is installed.")
