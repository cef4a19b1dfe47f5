"""Specification of the schema migrations and of the store's fast start-up path."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from shipyard.exceptions import ShipyardError
from shipyard.metadata import MetadataBackend, open_metadata
from shipyard.metadata.migrations import HEAD_REVISION, alembic_config
from shipyard.metadata.models import Base

TABLES = {
    "flows",
    "runs",
    "run_parameters",
    "run_tags",
    "tasks",
    "attempts",
    "artifacts",
    "registered_models",
    "model_versions",
    "model_aliases",
    "model_alias_events",
    "fact_tables",
    "fact_batches",
    "experiments",
    "experiment_events",
}


def test_opening_a_store_creates_the_schema_in_an_empty_database(db_url: str) -> None:
    open_metadata(db_url).close()

    engine = create_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == HEAD_REVISION
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(store: MetadataBackend, db_url: str) -> None:
    # Types, nullability, keys, indexes and constraints the migration created are exactly
    # what models.py declares; a model change without a migration fails here.
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_head_revision_constant_is_the_newest_migration() -> None:
    script = ScriptDirectory.from_config(alembic_config())

    assert script.get_heads() == [HEAD_REVISION]


def test_migrations_downgrade_to_empty_and_upgrade_again(
    store: MetadataBackend, db_url: str
) -> None:
    store.close()

    command.downgrade(alembic_config(url=db_url), "base")
    engine = create_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()

    with open_metadata(db_url) as reopened:
        assert reopened.list_runs() == []
        reopened.create_run("Flow", "alice")


def test_migrations_render_for_postgresql() -> None:
    # Without a server: offline mode compiles every operation with the PostgreSQL dialect.
    config = alembic_config(url="postgresql://user@localhost/shipyard")
    config.output_buffer = io.StringIO()

    command.upgrade(config, "head", sql=True)

    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE runs" in sql
    assert "id SERIAL NOT NULL" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql
    assert "ALTER TABLE runs ADD COLUMN runner_host VARCHAR" in sql
    assert f"version_num='{HEAD_REVISION}'" in sql.replace(" = ", "=")


def test_database_from_an_unknown_newer_revision_is_refused(db_url: str) -> None:
    open_metadata(db_url).close()
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")

    with pytest.raises(ShipyardError, match="cannot migrate the metadata database"):
        open_metadata(db_url)


_OPEN_AND_REPORT = textwrap.dedent(
    """
    import sys
    from shipyard.metadata import open_metadata
    store = open_metadata(sys.argv[1])
    store.list_runs()
    print(sorted(m for m in sys.modules if m == "alembic" or m.startswith("alembic.")))
    """
)


def _modules_after_opening(db_url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _OPEN_AND_REPORT, db_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def test_opening_a_store_at_head_does_not_import_alembic(db_url: str) -> None:
    open_metadata(db_url).close()

    assert _modules_after_opening(db_url) == "[]"


def test_opening_a_new_store_imports_alembic_to_migrate(db_url: str) -> None:
    # The counterpart of the fast path test: proves that the check above can fail.
    assert _modules_after_opening(db_url) != "[]"
