"""The one place that writes for people: rich on stderr.

Machine-readable results (digests, JSON) go to stdout through `emit`. Rich
honours NO_COLOR and FORCE_COLOR by itself. rich is imported on first use so
that `invoke --list` stays fast.
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable

from polyarch.core.masking import Secrets

if TYPE_CHECKING:
    from rich.console import Console


@lru_cache(maxsize=1)
def err() -> "Console":
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


_secrets = Secrets()
_CONTROL = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]")


def hide_secrets(env: dict[str, str], keys: Iterable[str] = ()) -> None:
    """Never show the secret `.env` values: those of the listed keys, and secret-looking ones under secret-looking keys."""
    global _secrets
    _secrets = _secrets.merged(Secrets.from_env(env, keys))


def hidden(data):
    """A plan (or any data) as it may be shown: every secret value replaced by a placeholder."""
    return _secrets.mask(data)


def redact(text: str) -> str:
    """Text with every secret value replaced and terminal control sequences removed."""
    return _CONTROL.sub("", _secrets.mask_text(text))


def plain(text: str) -> str:
    """Text shown as it is: no secrets, no control sequences, and brackets are not rich markup."""
    from rich.markup import escape

    return escape(redact(text))


def info(message: str, emphasis: str | None = None) -> None:
    """A line of information; `emphasis`, if given, is shown in bold after it."""
    line = plain(message)
    if emphasis is not None:
        line += f" [bold]{plain(emphasis)}[/]"
    err().print(line)


def step(message: str) -> None:
    err().print(f"[bold cyan]>[/] {plain(message)}")


def done(message: str) -> None:
    err().print(f"[bold green]ok[/] {plain(message)}")


def warn(message: str) -> None:
    err().print(f"[bold yellow]warning:[/] {plain(message)}")


def error(message: str, tip: str | None = None) -> None:
    console = err()
    console.print(f"[bold red]ERROR[/] {plain(message)}")
    if tip:
        console.print(f"[bold]TIP[/] {plain(tip)}")


def faint(line: str) -> None:
    """Pass-through output of a docker command, shown dimmed."""
    from rich.text import Text

    err().print(Text(redact(line.rstrip("\n")), style="dim"))


def emit(text: str) -> None:
    """Machine-readable output on stdout."""
    _write_out(redact(text))


def emit_json(data: object) -> None:
    """Data as one JSON document on stdout, secret values replaced in the data and, as a last resort, in the text."""
    _write_out(_secrets.mask_json_text(json.dumps(hidden(data), indent=2, sort_keys=False)))


def _write_out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def status(message: str):
    """A spinner for a step with no output of its own."""
    return err().status(message)


@contextmanager
def live(label: str):
    """A live status line below the output while a long step runs; yields update(text) to change what it says.

    On a terminal only: elsewhere it shows nothing (the lines printed meanwhile still appear).
    """
    with err().status(plain(label)) as shown:
        yield lambda text: shown.update(plain(text))


class Markup(str):
    """A table cell that is rich markup on purpose (e.g. a coloured verdict)."""


@contextmanager
def progress_bytes(label: str):
    """A live line 'label: N MB read, M MB written'; yields advance(read, written)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err(), transient=True) as progress:
        task = progress.add_task(label)

        def advance(read: int, written: int) -> None:
            progress.update(task, description=f"{label}: {read / 1e6:.1f} MB in, {written / 1e6:.1f} MB out")

        yield advance


def table(title: str, columns: Iterable[str], rows: Iterable[Iterable[str]]) -> None:
    """A table that fits the terminal: a cell too wide for its column wraps (image references included), never cut."""
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in rows:
        t.add_row(*[c if isinstance(c, Markup) else plain(str(c)) for c in row])
    err().print(t)
