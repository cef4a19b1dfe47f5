"""Alembic migrations of the metadata schema, and the one call that applies them.

Importing this package costs nothing: alembic is imported only inside `upgrade_to_head`,
because the SQL backend (`metadata.sql.database`) first compares the database's revision with
`HEAD_REVISION` and needs alembic only when they differ (a new database, or one made by an
older Shipyard).

Adding a migration: write `versions/NNNN_<what>.py` (`alembic revision` renders
`script.py.mako` when given `alembic_config(url)`), set its `down_revision` to the current head
and bump `HEAD_REVISION` below; a test fails until the two agree. The fast listing
(`metadata.run_index`) reads the database at `HEAD_REVISION` directly: its tests in
`tests/metadata/test_run_index.py` then tell whether its queries still hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.exceptions import ShipyardError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

HEAD_REVISION = "0006"
"""The newest revision in `versions/`; a database at this revision needs no migration."""

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic configuration built in code, so that no alembic.ini has to ship or be found.

    Pass `connection` to migrate inside a transaction the caller owns (what the store does, to
    hold its migration lock); pass `url` to let `env.py` connect on its own (command-line use).
    """
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolates '%', which may legitimately occur in paths and passwords.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(connection: Connection) -> None:
    """Bring the schema behind `connection` to `HEAD_REVISION` within the caller's transaction."""
    from alembic import command
    from alembic.util import CommandError

    try:
        command.upgrade(alembic_config(connection=connection), "head")
    except CommandError as exc:
        # Typically a database written by a newer Shipyard, whose revision we do not know.
        raise ShipyardError(
            f"cannot migrate the metadata database to revision {HEAD_REVISION}: {exc}; "
            "if another Shipyard version created it, use that version or a newer one"
        ) from exc
