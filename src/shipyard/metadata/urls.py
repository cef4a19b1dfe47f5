"""What a metadata URL names on this machine: the file of a plain SQLite URL.

Both the fast listing reader (`run_index`) and the factory's refusal to create a store for a
reader need to know whether a URL is a local SQLite file and which; this is that one answer.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["sqlite_file"]

_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


def sqlite_file(url: str) -> Path | None:
    """The file of a plain `sqlite:///path` URL; None for anything SQLAlchemy would interpret
    further (query options, percent-escapes, `file:` URIs, in-memory databases) and for every
    other database."""
    prefix = next((p for p in _SQLITE_PREFIXES if url.startswith(p)), None)
    if prefix is None:
        return None
    database = url[len(prefix) :]
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if "?" in database or "%" in database:
        return None
    return Path(database)
