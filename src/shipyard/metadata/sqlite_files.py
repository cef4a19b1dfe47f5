"""A local SQLite metadata file: whether it may be written, how to read it without writing,
and which of its driver's errors mean that the file itself is damaged.

Shared by the SQL backend and the fast listing (`run_index`), which open the same file through
different drivers (SQLAlchemy, the standard library's `sqlite3`); both raise the errors here.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from shipyard.metadata.errors import MetadataDamaged

__all__ = ["damaged", "is_damage", "is_read_only", "read_only_options", "read_only_uri"]

# What sqlite3 itself raises when a TEXT value of a damaged page is not UTF-8.
_NOT_UTF8 = "Could not decode to UTF-8"


def is_read_only(path: Path) -> bool:
    """Whether the database at `path` must be opened without writing to it or beside it.

    SQLite in WAL mode writes `-wal` and `-shm` files next to the database even to read it, so
    the folder counts as much as the file. Besides what `os.access` says, a file or folder
    without any write permission bit counts as read-only: that is what a read-only copy
    (`chmod -R a-w`) looks like, and it is left untouched even by root, whom permissions do
    not stop.
    """
    for target in (path, path.parent):
        if not os.access(target, os.W_OK) or not target.stat().st_mode & 0o222:
            return True
    return False


def read_only_uri(path: Path) -> str:
    """A `file:` URI that opens `path` read-only and writes nothing beside it."""
    options = "&".join(f"{key}={value}" for key, value in read_only_options(path).items())
    return f"{path.resolve().as_uri()}?{options}"


def read_only_options(path: Path) -> dict[str, str]:
    """The URI options of `read_only_uri`.

    `immutable=1` keeps SQLite from creating `-shm`/`-wal` files (which it does even with
    `mode=ro` wherever the folder lets it). An immutable database's WAL is not read, though,
    so a copy taken while a writer was active (a `-wal` file with content) is opened with
    `mode=ro` alone, which reads that WAL through the `-shm` file beside it.
    """
    wal = path.with_name(f"{path.name}-wal")
    pending = wal.is_file() and wal.stat().st_size > 0
    return {"mode": "ro"} if pending else {"mode": "ro", "immutable": "1"}


def is_damage(error: BaseException | None) -> bool:
    """Whether a `sqlite3` error says that the database file is damaged (not a passing
    condition such as a lock, nor a mistake in a query)."""
    if isinstance(error, sqlite3.OperationalError):
        return str(error).startswith(_NOT_UTF8)
    if isinstance(error, sqlite3.DatabaseError):
        name = getattr(error, "sqlite_errorname", "")
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    return False


def damaged(path: Path | str, error: BaseException | None) -> MetadataDamaged:
    """The error for a damaged database file: what is wrong and how to recover."""
    return MetadataDamaged(
        f"the metadata database {path} is damaged ({error}). Restore it from a backup; "
        f"without one, salvage what is readable with `sqlite3 {path} .recover | sqlite3 "
        f"{path}.recovered` and put that file in its place. The datastore's blobs are not "
        "affected."
    )
