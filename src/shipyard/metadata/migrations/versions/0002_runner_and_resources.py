"""Who runs a run (host and pid, to tell a dead runner from a live one) and task resources.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("runner_host", sa.String(), nullable=True))
        batch.add_column(sa.Column("runner_pid", sa.Integer(), nullable=True))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("resources", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("resources")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("runner_pid")
        batch.drop_column("runner_host")
