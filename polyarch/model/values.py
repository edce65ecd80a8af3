"""The Helm values file a stack may name: read `image.registry`, write `image.tag`.

ruamel.yaml's round-trip mode keeps comments, key order and layout. The new
file is written next to the old one and renamed over it, so a failure leaves
the old file untouched.
"""

from __future__ import annotations

import io
from pathlib import Path

from polyarch.adapters.files import write_atomic
from polyarch.core.errors import UsageError


def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    return yaml


def _load(path: Path):
    if not path.is_file():
        raise UsageError(f"The values file {path} does not exist.", tip="Create it, or remove values_file from the stack description.")
    from ruamel.yaml import YAMLError

    try:
        data = _yaml().load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        raise UsageError(f"The values file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"The values file {path} must be a mapping at the top level.")
    return data


def read_registry(path: Path) -> str | None:
    """`image.registry` as a string ('' when empty or null)."""
    image = _load(path).get("image") or {}
    value = image.get("registry") if isinstance(image, dict) else None
    return "" if value is None else str(value)


def read_values(path: Path) -> dict:
    """The whole values file as plain data."""
    return _load(path)


def write_tag(path: Path, tag: str, refs: tuple[tuple[str, str], ...] = ()) -> None:
    """Set `image.tag` (and each dotted key of `refs`), keeping everything else in the file as it was."""
    data = _load(path)
    image = data.get("image")
    if not isinstance(image, dict):
        raise UsageError(f"The values file {path} has no `image:` mapping to write the tag into.")
    image["tag"] = tag
    for dotted, ref in refs:
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise UsageError(f"The values file {path} has no `{part}:` mapping to write {dotted} into.")
            node = node[part]
        node[last] = ref
    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    write_atomic(path, buffer.getvalue())
