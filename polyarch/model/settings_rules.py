"""What a polyarch.toml value may be: the patterns and checks the settings models validate with.

The `valid_*` helpers return the value or raise ValueError, for pydantic validators; the `*_problem`
helpers say why a value is unusable (None when it is fine), for messages elsewhere too.
"""

from __future__ import annotations

import re

from polyarch.core.imageref import REPOSITORY, host_problem

# Compose's rule for project names.
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# What a runner label may hold in a generated workflow (no spaces, quotes or line breaks).
RUNNER_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CACHE_BACKENDS = ("gha", "registry", "local", "none")
AIRTIGHT_SOURCES = ("build", "registry")
GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
# A GitHub Actions variable or secret a build step may read.
GITHUB_SOURCE = re.compile(r"^(?:vars|secrets)\.[A-Za-z_][A-Za-z0-9_]*$")
WORKFLOW_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$")
# A user:password@ part: everything up to the last '@' that does not start a digest.
_CREDENTIALS = re.compile(r"^.*@(?!sha256:)", re.DOTALL)


def hide_credentials(value: str) -> str:
    """`value` with its user:password@ part (if any) shown as ***@, so that a message can quote it."""
    return _CREDENTIALS.sub("***@", value, count=1)


def credentials_in(value: str) -> tuple[str, str] | None:
    """For `user:pw@host/ns`: ('***@host/ns', 'host'), to name it without the password; None without credentials."""
    if not _CREDENTIALS.match(value):
        return None
    shown = hide_credentials(value)
    return shown, shown.removeprefix("***@").split("/")[0]


def registry_problem(value: str) -> str | None:
    """Why `value` is not a registry reference HOST[:PORT][/NAMESPACE] (None when it is one)."""
    host, _, namespace = value.partition("/")
    problem = host_problem(host)
    if problem is None and namespace and not REPOSITORY.fullmatch(namespace):
        problem = f"the namespace '{namespace}' is not a repository path (lowercase letters, digits, '.', '_', '-', '/')"
    return problem


def unsafe_text(value: str) -> str | None:
    """Why a value cannot go into a generated workflow as it is: a line break, a control character or `${{`."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "holds a line break or another control character"
    if "${{" in value:
        return "holds '${{', which GitHub Actions would evaluate as an expression"
    return None


def valid_env_keys(keys: list[str]) -> list[str]:
    for key in keys:
        if not ENV_KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a valid variable name (letters, digits and '_', not starting with a digit)")
    return keys


def valid_workflow_text(value: str, what: str, advice: str = "") -> str:
    problem = unsafe_text(value) or ("is empty" if not value.strip() else None)
    if problem:
        raise ValueError(f"{what} {problem}{advice}")
    return value


def valid_runner_label(label: str, what: str) -> str:
    if not RUNNER_LABEL.fullmatch(label):
        raise ValueError(f"{what} {label!r} may hold only letters, digits, '.', '_' and '-'")
    return label


def without_credentials(value: str | None) -> str | None:
    """A registry reference in polyarch.toml carries no user name or password (never echoed)."""
    found = credentials_in(value or "")
    if found is not None:
        raise ValueError(f"'{found[0]}' carries a user name or password; remove the part before '@' and log in once with "
                         f"`docker login {found[1]}` instead")
    return value
