"""What the tasks that start a stack share: .env must be complete before, its URLs are shown after."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyarch.cli.session import suggest
from polyarch.core import console
from polyarch.core.errors import EnvFileError

if TYPE_CHECKING:
    from polyarch.model.stack import Stack


def require_env(stack: Stack) -> None:
    """Refuse to start a prod mode without .env or with empty required values."""
    from polyarch.model.envfile import missing_required

    if not stack.env_file.is_file():
        raise EnvFileError(f"{stack.env_file} does not exist.", tip=f"Run `{suggest(stack, 'init')}` to create it with fresh secrets.")
    missing = missing_required(stack.env_file, stack.required)
    if missing:
        raise EnvFileError(
            f"{stack.env_file} has no value for {', '.join(missing)}.",
            tip=f"Run `{suggest(stack, 'init')}` to fill empty secrets (it keeps the values you set).",
        )


def print_urls(stack: Stack) -> None:
    """Print the stack's URLs, read from .env with the description's defaults."""
    from polyarch.model.envfile import read_env

    values = read_env(stack.env_file)
    rows = [(label, values.get(key) or default) for label, (key, default) in stack.urls.items()]
    if rows:
        console.table("The stack is up", ("", "URL"), rows)
