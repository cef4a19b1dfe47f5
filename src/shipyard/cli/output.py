"""How the `shipyard` commands print: rich tables, fields, statuses, times and sizes.

Shared by every command module; rich is imported inside the functions so that a command
that prints nothing heavy starts fast.
"""

from __future__ import annotations

import reprlib
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

STATUS_STYLES = {
    "succeeded": "green",
    "failed": "bold red",
    "running": "yellow",
    "pending": "dim",
    "lost": "bold magenta",
}


def console() -> Console:
    from rich.console import Console

    # Never highlight: numbers and paths in user data would be coloured at random.
    return Console(highlight=False)


def table(*columns: str, title: str | None = None) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def fields(rows: Iterable[tuple[str, Text]]) -> Table:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def text(value: str, style: str = "") -> Text:
    # Text, not str: rich would read "[...]" in user data (tracebacks, tags) as markup.
    from rich.text import Text

    return Text(value, style=style)


def status(value: str) -> Text:
    return text(value, STATUS_STYLES.get(value, ""))


def status_counts(values: Iterable[str]) -> Text:
    from rich.text import Text

    counts = Counter(values)
    text = Text()
    for index, (value, count) in enumerate(sorted(counts.items())):
        if index:
            text.append(", ")
        text.append(f"{count} {value}", style=STATUS_STYLES.get(value, ""))
    return text


def last_line(text: str | None) -> str:
    """The last non-blank line of an error: for a traceback, the exception and its message."""
    if not text:
        return ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(start: datetime, end: datetime | None) -> str:
    """How long something took, or has been running (marked with a trailing '+')."""
    # Client objects give naive local times (as Metaflow's do); records give aware UTC ones.
    seconds = ((end or datetime.now(UTC)).astimezone() - start.astimezone()).total_seconds()
    text = format_seconds(seconds)
    return text if end is not None else f"{text}+"


def size(size: int) -> str:
    """A byte count in binary units: `512 B`, `1.5 KiB`, `3.0 GiB`."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def fail(message: str, code: int = 1) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    raise click.exceptions.Exit(code)


def format_seconds(seconds: float) -> str:
    """A duration as people read it: `4.2s`, `3m 04s`, `2h 05m`, `3d 04h`."""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


# A value preview longer than this many lines is cut: a terminal is for a glance, the client
# API (`Task(...).data.name`) for the whole value.
_PREVIEW_MAX_LINES = 60


def preview(value: Any, *, max_chars: int = 4000) -> str:
    """A repr of `value` short enough for a terminal, keeping its beginning and its shape.

    Containers show their first elements and nesting is cut a few levels down (reprlib);
    whatever is still too long is cut at `_PREVIEW_MAX_LINES` lines with a note.
    """
    shortener = reprlib.Repr()
    shortener.maxlevel = 4
    for attribute in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque"):
        setattr(shortener, attribute, 20)
    shortener.maxstring = max_chars // 4
    shortener.maxlong = 200
    shortener.maxother = max_chars
    text = shortener.repr(value)
    lines = text.splitlines()
    if len(lines) > _PREVIEW_MAX_LINES:
        hidden = len(lines) - _PREVIEW_MAX_LINES
        text = "\n".join([*lines[:_PREVIEW_MAX_LINES], f"... ({hidden} more lines)"])
    return text
