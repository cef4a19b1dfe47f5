"""What a metadata URL names on this machine: the file of a plain SQLite URL.

The fast listing reader (`run_index`) and the CLI's messages (which store was read) need to
know, without importing SQLAlchemy, whether a URL is a local SQLite file and which; this is
that one answer. The SQL backend parses its URLs with SQLAlchemy instead (`sql/database.py`).
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
