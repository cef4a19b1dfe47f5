"""How run ids and page cursors of the SQL schema map to its integer keys.

Pure Python on purpose: the fast SQLite listing (`metadata.run_index`) reads the same schema
without SQLAlchemy and must read run ids and cursors exactly as the SQL backend does.
"""

from __future__ import annotations

from shipyard.exceptions import ShipyardError

__all__ = ["parse_run_id", "run_cursor"]


def parse_run_id(run_id: str) -> int | None:
    """The primary key a run_id names, or None if it cannot name one (not a number)."""
    run_id = str(run_id)
    return int(run_id) if run_id.isascii() and run_id.isdigit() else None


def run_cursor(after: str) -> int:
    """The key below which the runs listed `after` run `after` lie (runs list newest first)."""
    run_pk = parse_run_id(after)
    if run_pk is None:
        raise ShipyardError(
            f"after={after!r} is not a run id: page through runs by passing the run_id of the "
            "last run of the previous page"
        )
    return run_pk
