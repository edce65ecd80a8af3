"""Docker's failures said in polyarch's terms: what failed, the tail of docker's output, and the fix.

Every engine method runs its docker calls inside `docker_errors(...)`, which
turns python-on-whales' DockerException into an EngineError (or a
MissingTagError for a tag the registry lacks).
"""

from __future__ import annotations

import contextlib
import re
from typing import Callable, Iterator

from polyarch.core.errors import EngineError, MissingTagError
from polyarch.core.progname import prog

NO_ENGINE_TIP = (
    "Start Docker (Docker Desktop, or `sudo systemctl start docker`), and check DOCKER_HOST if you point at a remote engine; "
    "`{prog} doctor` checks the engine, buildx, compose and QEMU."
)
NO_CLIENT_TIP = ("Install Docker Desktop, or the docker CLI with its buildx and compose plugins "
                 "(Debian: the docker-cli, docker-buildx and docker-compose packages).")


def no_engine_tip() -> str:
    return NO_ENGINE_TIP.format(prog=prog())


class ComposeRefused(EngineError):
    """`compose config` refused the files; `output` is what compose said (the model layer explains it)."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


def command_output(exc: Exception) -> str:
    """What a failed docker command printed: its stderr, else its stdout."""
    stderr = getattr(exc, "stderr", None) or ""
    stdout = getattr(exc, "stdout", None) or ""
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    if isinstance(stdout, bytes):
        stdout = stdout.decode(errors="replace")
    return (stderr or stdout).strip()


def _unreachable(exc: Exception, text: str, doing: str) -> EngineError:
    """The engine, or a remote node of the builder, does not answer."""
    command = " ".join(str(part) for part in (getattr(exc, "docker_command", None) or []))
    if "buildx" in command and ("--builder" in command or re.search(r"\b(ssh|tcp)://", text)):
        return EngineError(f"A node of the buildx builder does not answer (polyarch was about to {doing}).\n"
                           + "\n".join(text.splitlines()[-5:]),
                           "Check that the builder's remote machines are up (`docker buildx inspect --bootstrap NAME`), "
                           "or build without --builder.")
    return EngineError(f"The Docker engine does not answer (polyarch was about to {doing}).", no_engine_tip())


def _port_taken(text: str) -> EngineError:
    port = (re.search(r"Bind for \S*?:(\d+) failed", text)
            or re.search(r"(?:127\.0\.0\.1|0\.0\.0\.0|\[::\]):(\d+)", text))
    which = f"Port {port.group(1)}" if port else "A port the stack publishes"
    return EngineError(
        f"{which} is already taken on this machine, so the stack cannot publish it.",
        f"Stop whatever holds the port (`{prog()} down` if it is an older run of this stack), "
        "or change the port the compose files publish (usually a variable in .env).",
    )


def _tip(lowered: str) -> str | None:
    """The fix for a missing plugin or emulator, when docker's output shows one."""
    if "is not a docker command" in lowered and "compose" in lowered:
        return f"Install the compose v2 plugin (`docker compose version` must answer); `{prog()} doctor` checks it."
    if "is not a docker command" in lowered and "buildx" in lowered:
        return f"Install the buildx plugin (`docker buildx version` must answer); `{prog()} doctor` checks it."
    if "exec format error" in lowered:
        return f"Register QEMU for the foreign architecture (`{prog()} doctor` says how)."
    return None


def explain(exc: Exception, doing: str) -> EngineError:
    """Turn a DockerException into an EngineError with the tail of its output; `doing` is what polyarch was about to do."""
    text = command_output(exc)
    lowered = text.lower()
    if "cannot connect to the docker daemon" in lowered or "error during connect" in lowered:
        return _unreachable(exc, text, doing)
    if "port is already allocated" in lowered or "address already in use" in lowered:
        return _port_taken(text)
    detail = "\n".join(text.splitlines()[-25:])
    message = f"Could not {doing} (docker exited with {getattr(exc, 'return_code', '?')})."
    if detail:
        message += f"\n{detail}"
    return EngineError(message, _tip(lowered))


def not_found(exc: Exception) -> bool:
    """Did the registry say the tag (or repository) does not exist?"""
    text = command_output(exc).lower()
    return "not found" in text or "manifest unknown" in text


def registry_hiccup(exc: Exception) -> bool:
    """Did a push fail on a registry's 5xx answer (worth one more try)?"""
    stderr = getattr(exc, "stderr", None) or b""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else str(stderr)
    return bool(re.search(r"\b5\d\d (Internal Server Error|Bad Gateway|Service Unavailable)", text))


@contextlib.contextmanager
def converted(convert: Callable[[Exception], Exception]) -> Iterator[None]:
    """Run the block; a DockerException raised in it is replaced by `convert(exc)` (its traceback left out)."""
    from python_on_whales.exceptions import DockerException

    try:
        yield
    except DockerException as exc:
        raise convert(exc) from None


def docker_errors(doing: str, missing: str | None = None) -> contextlib.AbstractContextManager[None]:
    """Run the block; a DockerException becomes `explain(exc, doing)`.

    With `missing` (a ref), a registry's "not found" becomes MissingTagError(missing) instead.
    """
    def convert(exc: Exception) -> Exception:
        if missing is not None and not_found(exc):
            return MissingTagError(missing)
        return explain(exc, doing)

    return converted(convert)
