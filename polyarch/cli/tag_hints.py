"""When a tag is not in the registry: which tags it has, and which one to try."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from polyarch.core.errors import MissingTagError, PolyarchError
from polyarch.core.progname import prog


def known_tags(root: Path, values_file: Path | None) -> dict[str, str]:
    """Tags worth naming first when a tag is missing, with why: the last deploy-build's (the values file) and this commit's."""
    from polyarch.adapters.git import git_state

    known: dict[str, str] = {}
    if values_file is not None and values_file.is_file():
        from polyarch.model.values import read_values

        try:
            image = read_values(values_file).get("image") or {}
        except PolyarchError:
            image = {}
        if isinstance(image, dict) and image.get("tag"):
            known[str(image["tag"])] = "the last deploy-build"
    sha = git_state(root).short_sha
    if sha:
        known.setdefault(sha, "this commit")
    return known


def known_tags_here(stack_path: str | None) -> dict[str, str]:
    """known_tags() of the project found from here, or of this folder's git when there is none."""
    from polyarch.model.project import find_project
    from polyarch.model.settings_file import load_settings

    try:
        project = find_project(stack_path)
        settings = load_settings(project.settings_file) if project.settings_file else None
    except PolyarchError:
        return known_tags(Path.cwd(), None)
    values = settings.project.values_file if settings else None
    return known_tags(project.root, project.root / values if values else None)


def missing_tag(exc: MissingTagError, known: dict[str, str], use: Callable[[str], str], note: str = "") -> MissingTagError:
    """`exc` again, saying which tags the registry has for that repository and how to use one (`use(tag)`)."""
    from polyarch.adapters.registry import RegistryHTTPError, list_tags
    from polyarch.planning.release_rules import missing_tag_message

    try:
        tags: list[str] | None = list_tags(exc.ref)
    except RegistryHTTPError:
        tags = None
    if tags is not None:
        from polyarch.planning.release_rules import is_cosign_tag

        tags = [t for t in tags if not is_cosign_tag(t)]  # signatures stored beside the images are no versions
    message, instead = missing_tag_message(exc.ref, tags, known)
    tip = use(instead) if instead else f"Publish it first (`{prog()} deploy-build`), or check the registry and the repository name."
    return MissingTagError(exc.ref, message + note, tip)
