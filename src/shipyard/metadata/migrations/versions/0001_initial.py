"""Initial metadata schema: flows, runs with their parameters and tags, tasks, attempts, artifacts.

Revision ID: 0001
Revises:

Written out by hand rather than derived from models.py, so that it keeps creating exactly this
schema whatever the models become later. Constraint names follow models.NAMING_CONVENTION.
Timestamps are `timestamptz` on PostgreSQL and UTC text on SQLite; statuses are enum values as
short strings; JSON documents are text.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TIMESTAMP = sa.DateTime(timezone=True)
_STATUS = sa.String(16)


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_flows"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flow_name", sa.String(), nullable=False),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("status", _STATUS, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("finished_at", _TIMESTAMP, nullable=True),
        sa.Column("code_hash", sa.String(), nullable=True),
        sa.Column("origin_run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.ForeignKeyConstraint(
            ["flow_name"], ["flows.name"], name="fk_runs_flow_name_flows", ondelete="CASCADE"
        ),
        # Run ids are shown to users and must never be handed out twice.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_runs_flow_name_id", "runs", ["flow_name", "id"])
    op.create_table(
        "run_parameters",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "name", name="pk_run_parameters"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_parameters_run_id_runs", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "tag", name="pk_run_tags"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_tags_run_id_runs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_run_tags_tag", "run_tags", ["tag"])
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("step_name", sa.String(), nullable=False),
        sa.Column("task_id", sa.String(), nullable=False),
        sa.Column("status", _STATUS, nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("finished_at", _TIMESTAMP, nullable=True),
        sa.Column("foreach_stack", sa.Text(), nullable=False),
        sa.Column("input_paths", sa.Text(), nullable=False),
        sa.Column("origin_pathspec", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_tasks_run_id_runs", ondelete="CASCADE"
        ),
        # Its index also serves lookups by (run_id, step_name).
        sa.UniqueConstraint(
            "run_id", "step_name", "task_id", name="uq_tasks_run_id_step_name_task_id"
        ),
    )
    op.create_table(
        "attempts",
        sa.Column("task_pk", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", _STATUS, nullable=False),
        sa.Column("started_at", _TIMESTAMP, nullable=False),
        sa.Column("finished_at", _TIMESTAMP, nullable=True),
        sa.Column("stdout_hash", sa.String(), nullable=True),
        sa.Column("stderr_hash", sa.String(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("task_pk", "attempt", name="pk_attempts"),
        sa.ForeignKeyConstraint(
            ["task_pk"], ["tasks.id"], name="fk_attempts_task_pk_tasks", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "artifacts",
        sa.Column("task_pk", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("type_name", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("encoding", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("task_pk", "name", name="pk_artifacts"),
        sa.ForeignKeyConstraint(
            ["task_pk"], ["tasks.id"], name="fk_artifacts_task_pk_tasks", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("artifacts")
    op.drop_table("attempts")
    op.drop_table("tasks")
    op.drop_index("ix_run_tags_tag", table_name="run_tags")
    op.drop_table("run_tags")
    op.drop_table("run_parameters")
    op.drop_index("ix_runs_flow_name_id", table_name="runs")
    op.drop_table("runs")
    op.drop_table("flows")
