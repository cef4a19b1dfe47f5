"""The fact store's catalogue: declared fact tables and their batches of Parquet files.

Revision ID: 0005
Revises: 0004

Written out by hand like 0003, so that it keeps creating exactly this schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fact_tables",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("entity", sa.String(), nullable=False),
        sa.Column("event_time", sa.String(), nullable=False),
        sa.Column("schema", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_fact_tables"),
    )
    op.create_table(
        "fact_batches",
        sa.Column("table_name", sa.String(), nullable=False),
        sa.Column("batch_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("recorded_at", _TIMESTAMP, nullable=False),
        sa.Column("last_recorded_at", _TIMESTAMP, nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("min_event_time", _TIMESTAMP, nullable=True),
        sa.Column("max_event_time", _TIMESTAMP, nullable=True),
        sa.Column("replaced_by", sa.Integer(), nullable=True),
        sa.Column("replaced_at", _TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("table_name", "batch_id", name="pk_fact_batches"),
        sa.ForeignKeyConstraint(
            ["table_name"],
            ["fact_tables.name"],
            name="fk_fact_batches_table_name_fact_tables",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("fact_batches")
    op.drop_table("fact_tables")
