"""Reading polyarch.toml: parse and validate it, every problem named by its key path in one error.

An unknown key is refused with the nearest known key suggested.
"""

from __future__ import annotations

import difflib
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from polyarch.core.errors import StackError
from polyarch.model.settings import Settings


def _known_keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _unwrap(annotation: Any) -> Any:
    """The model inside `X | None` or `dict[str, X]`, else the annotation."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is dict and len(args) == 2:
        return _DictOf(args[1])
    for arg in args:
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


class _DictOf:
    """Marks a free-form table whose values are all of one model."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _describe(error: dict[str, Any]) -> str:
    location = error["loc"]
    dotted = ".".join(str(p) for p in location)
    if error["type"] == "extra_forbidden":
        parent = _parent_model(location[:-1])
        known = _known_keys(parent) if parent else []
        close = difflib.get_close_matches(str(location[-1]), known, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else (f" (known keys: {', '.join(known)})" if known else "")
        return f"{dotted} is not a known key{hint}"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return f"{dotted}: {message}"


def _parent_model(location: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = Settings
    for part in location:
        if isinstance(model, _DictOf):
            model = _unwrap(model.value)
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        model = _unwrap(field.annotation)
    if isinstance(model, _DictOf):
        return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def parse_settings(data: dict[str, Any], source: Path) -> Settings:
    """Validate the data of a polyarch.toml; every problem is listed in one error."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(e) for e in exc.errors()]
        raise StackError(f"{source} has {len(problems)} problem{'s' if len(problems) > 1 else ''}:\n  "
                         + "\n  ".join(problems),
                         tip="Fix the keys named above in polyarch.toml (each line says what the key takes), then run the task again.") from None


def load_settings(path: Path) -> Settings:
    """Read and validate a polyarch.toml file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise StackError(f"{path} is not UTF-8 text.", tip="Save it as UTF-8.") from None
    except OSError as exc:
        raise StackError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StackError(f"{path} is not valid TOML: {exc}.") from None
    return parse_settings(data, path)
