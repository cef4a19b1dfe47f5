"""A run's heartbeat (to tell a lost run from a live one on any host), the host each attempt
ran on, and the library versions a model version was saved with.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("host", sa.String(), nullable=True))
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("environment", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("environment")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("host")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("heartbeat_at")
