"""share_arrivals: visits that came through someone's share link

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 18:30:00

One row per visitor and day that followed a member's share link (`?ref=`) to a campaign or
an idea; the visitor's account once known. See cocreate/sharing/models.py.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import cocreate.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "share_arrivals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sharer_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=True),
        sa.Column("visitor", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("arrived_at", cocreate.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["idea_id"], ["ideas.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sharer_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("share_arrivals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_share_arrivals_sharer", ["sharer_id", "campaign_id", "idea_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_share_arrivals_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("share_arrivals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_arrivals_user_id"))
        batch_op.drop_index("ix_share_arrivals_sharer")
    op.drop_table("share_arrivals")
