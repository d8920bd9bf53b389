"""jobs: our jobs table on both databases (SQLite's queue); procrastinate's queue on PostgreSQL

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25 10:00:00

On PostgreSQL, procrastinate's own schema (its tables, types, functions and triggers, as its
`SchemaManager.get_schema()` gives them for the installed release) goes into a PostgreSQL
schema of its own, `procrastinate`: its objects stay apart from the platform's tables (and
out of the models-versus-migrations comparison), and its connections find them through
their `search_path` (cocreate/jobs/pg.py). Upgrading procrastinate across a release that
changes its schema needs a migration here that applies that release's SQL migration files
(`SchemaManager.get_migrations_path()`), in the same schema.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import cocreate.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE_SCHEMA = "procrastinate"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("brand_id", sa.Integer(), nullable=True),
        sa.Column("created_at", cocreate.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("run_after", cocreate.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", cocreate.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", cocreate.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("lease_until", cocreate.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("progress", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name="job_status"
        ),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_claim", ["status", "run_after"], unique=False)
        batch_op.create_index("ix_jobs_subject", ["subject", "id"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    previous = bind.exec_driver_sql("SHOW search_path").scalar()
    bind.exec_driver_sql(f"CREATE SCHEMA {QUEUE_SCHEMA}")
    bind.exec_driver_sql(f"SELECT set_config('search_path', '{QUEUE_SCHEMA}', true)")
    # As procrastinate's own `apply_schema` sends it (its `%` doubled for the driver).
    bind.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))
    bind.exec_driver_sql("SELECT set_config('search_path', %s, true)", (previous,))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP SCHEMA IF EXISTS {QUEUE_SCHEMA} CASCADE")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_subject")
        batch_op.drop_index("ix_jobs_claim")
    op.drop_table("jobs")
