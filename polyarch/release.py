"""Pure rules for publishing: which platforms, registry and tags a release uses.

Nothing here touches docker; git is read by the caller and passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from polyarch.errors import UsageError
from polyarch.platforms import parse_platforms

# Registry values that mean "not configured yet".
PLACEHOLDER_REGISTRIES = {"", "null", "none", "~", "your-registry", "registry.example.com", "example.com", "changeme"}

_SEMVER = re.compile(r"^v(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?P<pre>-[0-9A-Za-z.-]+)?$")
_TAG_OK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def choose_platforms(flag: str | None, env_value: str | None, stack_default: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
    """--platforms wins over $PLATFORMS, which wins over the stack's list. Returns (platforms, source)."""
    if flag is not None:
        return parse_platforms(flag, "--platforms"), "--platforms"
    if env_value is not None:
        return parse_platforms(env_value, "$PLATFORMS"), "$PLATFORMS"
    return stack_default, "the stack description"


def check_registry(value: str | None, source: str) -> str:
    """Refuse an empty, null or placeholder registry before anything is built."""
    text = (value or "").strip()
    base = text.lower().rstrip("/")
    if base in PLACEHOLDER_REGISTRIES or base.startswith("<") or "your-registry" in base:
        shown = f"'{value}'" if value else "empty"
        raise UsageError(
            f"The registry from {source} is {shown}, which is not a registry images can be pushed to.",
            tip="Pass --registry HOST[:PORT]/NAMESPACE (e.g. 127.0.0.1:5000/polyarch), or set it in the stack description.",
        )
    if any(c.isspace() for c in text) or "://" in text:
        raise UsageError(f"The registry from {source} ('{value}') must look like HOST[:PORT][/NAMESPACE], without a scheme or spaces.")
    return text.rstrip("/")


def choose_registry(flag: str | None, stack_registry: str, values_registry: str | None) -> str:
    """--registry, else the stack description, else the Helm values file."""
    if flag is not None:
        return check_registry(flag, "--registry")
    if stack_registry:
        return check_registry(stack_registry, "the stack description")
    if values_registry is not None:
        return check_registry(values_registry, "image.registry in the values file")
    return check_registry("", "the stack description (no registry set)")


def check_tag(tag: str) -> str:
    if not _TAG_OK.match(tag):
        raise UsageError(f"'{tag}' is not a valid image tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-').")
    return tag


@dataclass(frozen=True)
class GitState:
    """What the caller read from git: short SHA (None outside git) and whether the tree is dirty."""

    short_sha: str | None
    dirty: bool


def choose_tag(flag: str | None, git: GitState, allow_dirty: bool) -> str:
    """--tag, else the short git SHA (refusing a dirty tree), else 'dev' outside git."""
    if flag:
        return check_tag(flag)
    if git.short_sha is None:
        return "dev"
    if git.dirty and not allow_dirty:
        raise UsageError(
            f"The work tree has uncommitted changes, so the tag {git.short_sha} would not name the source it was built from.",
            tip="Commit or stash the changes, pass --allow-dirty, or name a tag with --tag.",
        )
    return git.short_sha


def release_tags(ref: str, short_sha: str) -> tuple[str, ...]:
    """Tags a publish gets from its git ref.

    refs/tags/vX.Y.Z -> X.Y.Z, X.Y, latest; a prerelease (vX.Y.Z-rc.1) only
    gets its full version; refs/heads/main -> edge; every ref gets sha-<short>.
    """
    tags: list[str] = []
    if ref.startswith("refs/tags/"):
        match = _SEMVER.match(ref[len("refs/tags/"):])
        if match:
            version = f"{match['major']}.{match['minor']}.{match['patch']}"
            if match["pre"]:
                tags.append(version + match["pre"])
            else:
                tags += [version, f"{match['major']}.{match['minor']}", "latest"]
    elif ref == "refs/heads/main":
        tags.append("edge")
    if not short_sha or not re.fullmatch(r"[0-9a-f]{4,40}", short_sha):
        raise UsageError(f"'{short_sha}' is not a short git SHA.")
    tags.append(f"sha-{short_sha[:7]}")
    return tuple(tags)
