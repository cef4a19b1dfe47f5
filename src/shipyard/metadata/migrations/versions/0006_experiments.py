"""Experiments: their definitions and states, and the history of every change.

Revision ID: 0006
Revises: 0005

Written out by hand like 0003, so that it keeps creating exactly this schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("salt", sa.String(), nullable=False),
        sa.Column("cells", sa.Text(), nullable=False),
        sa.Column("control", sa.String(), nullable=False),
        sa.Column("holdout", sa.Float(), nullable=False),
        sa.Column("layer", sa.String(), nullable=True),
        sa.Column("traffic", sa.Float(), nullable=False),
        sa.Column("layer_offset", sa.Float(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("started_at", _TIMESTAMP, nullable=True),
        sa.Column("stopped_at", _TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_experiments"),
    )
    op.create_index("ix_experiments_layer", "experiments", ["layer"])
    op.create_table(
        "experiment_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("experiment", sa.String(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("at", _TIMESTAMP, nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_experiment_events"),
        sa.ForeignKeyConstraint(
            ["experiment"],
            ["experiments.name"],
            name="fk_experiment_events_experiment_experiments",
            ondelete="CASCADE",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_experiment_events_experiment_id", "experiment_events", ["experiment", "id"])


def downgrade() -> None:
    op.drop_index("ix_experiment_events_experiment_id", table_name="experiment_events")
    op.drop_table("experiment_events")
    op.drop_index("ix_experiments_layer", table_name="experiments")
    op.drop_table("experiments")
