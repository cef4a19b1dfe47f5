"""The model registry: registered models, their immutable versions, aliases and alias history.

Revision ID: 0003
Revises: 0002

Written out by hand like 0001, so that it keeps creating exactly this schema. A version's
lineage columns are nullable because a model may be registered outside any flow. Alias events
reference no version by foreign key: the history of a move must outlive anything it names.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_registered_models"),
    )
    op.create_table(
        "model_versions",
        sa.Column("model_name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("flavor", sa.String(), nullable=False),
        sa.Column("payload_sha256", sa.String(), nullable=False),
        sa.Column("payload_size", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("flow_name", sa.String(), nullable=True),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("step_name", sa.String(), nullable=True),
        sa.Column("task_id", sa.String(), nullable=True),
        sa.Column("artifact_name", sa.String(), nullable=True),
        sa.Column("artifact_sha256", sa.String(), nullable=True),
        sa.Column("parameters", sa.Text(), nullable=True),
        sa.Column("code_hash", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("model_name", "version", name="pk_model_versions"),
        sa.ForeignKeyConstraint(
            ["model_name"],
            ["registered_models.name"],
            name="fk_model_versions_model_name_registered_models",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_model_versions_flow_name_run_id", "model_versions", ["flow_name", "run_id"])
    op.create_table(
        "model_aliases",
        sa.Column("model_name", sa.String(), nullable=False),
        sa.Column("alias", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("model_name", "alias", name="pk_model_aliases"),
        sa.ForeignKeyConstraint(
            ["model_name", "version"],
            ["model_versions.model_name", "model_versions.version"],
            name="fk_model_aliases_model_name_version_model_versions",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "model_alias_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(), nullable=False),
        sa.Column("alias", sa.String(), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_alias_events"),
        sa.ForeignKeyConstraint(
            ["model_name"],
            ["registered_models.name"],
            name="fk_model_alias_events_model_name_registered_models",
            ondelete="CASCADE",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_model_alias_events_model_name_alias_id",
        "model_alias_events",
        ["model_name", "alias", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_model_alias_events_model_name_alias_id", table_name="model_alias_events")
    op.drop_table("model_alias_events")
    op.drop_table("model_aliases")
    op.drop_index("ix_model_versions_flow_name_run_id", table_name="model_versions")
    op.drop_table("model_versions")
    op.drop_table("registered_models")
