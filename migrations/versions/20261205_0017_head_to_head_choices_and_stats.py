"""head-to-head rounds: the choices and each idea's running statistics

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 05:19:26

The choice log (`head_to_head_choices`: one judged pair per voter at most, the fraud signals
of a vote) and the per-idea statistics the pair chooser reads (`head_to_head_stats`), with
one index per read of the chooser (fewest comparisons, nearest score, random). See
cocreate/headtohead/models.py.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import cocreate.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "head_to_head_choices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.Column("left_idea_id", sa.Integer(), nullable=False),
        sa.Column("right_idea_id", sa.Integer(), nullable=False),
        sa.Column("low_idea_id", sa.Integer(), nullable=False),
        sa.Column("high_idea_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("cast_at", cocreate.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("ip_prefix_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("risk_score", sa.Float(), nullable=False),
        sa.Column("risk_signals", sa.JSON(), nullable=False),
        sa.CheckConstraint("outcome IN ('left', 'right', 'tie')", name="h2h_choice_outcome"),
        sa.CheckConstraint("status IN ('counted', 'held', 'void')", name="h2h_choice_status"),
        sa.CheckConstraint(
            "(left_idea_id = low_idea_id AND right_idea_id = high_idea_id)"
            " OR (left_idea_id = high_idea_id AND right_idea_id = low_idea_id)",
            name="h2h_choice_pair_is_shown_pair",
        ),
        sa.CheckConstraint("left_idea_id <> right_idea_id", name="h2h_choice_two_ideas"),
        sa.CheckConstraint("low_idea_id < high_idea_id", name="h2h_choice_pair_order"),
        sa.ForeignKeyConstraint(
            ["left_idea_id"],
            ["ideas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["right_idea_id"],
            ["ideas.id"],
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["rounds.id"],
        ),
        sa.ForeignKeyConstraint(
            ["voter_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("head_to_head_choices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_h2h_choices_held",
            ["round_id", "voter_id", "cast_at"],
            unique=False,
            sqlite_where=sa.text("status = 'held'"),
            postgresql_where=sa.text("status = 'held'"),
        )
        batch_op.create_index("ix_h2h_choices_round_cast", ["round_id", "cast_at"], unique=False)
        batch_op.create_index(
            "uq_h2h_choices_voter_pair",
            ["round_id", "voter_id", "low_idea_id", "high_idea_id"],
            unique=True,
        )

    op.create_table(
        "head_to_head_stats",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("shuffle_key", sa.Integer(), nullable=False),
        sa.Column("comparisons", sa.Integer(), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("losses", sa.Integer(), nullable=False),
        sa.Column("ties", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("information", sa.Float(), nullable=False),
        sa.CheckConstraint("comparisons >= 0", name="h2h_stats_comparisons"),
        sa.CheckConstraint("wins >= 0 AND losses >= 0 AND ties >= 0", name="h2h_stats_counts"),
        sa.ForeignKeyConstraint(["idea_id"], ["ideas.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("round_id", "idea_id"),
    )
    with op.batch_alter_table("head_to_head_stats", schema=None) as batch_op:
        batch_op.create_index(
            "ix_h2h_stats_fewest",
            ["round_id", "active", "comparisons", "shuffle_key", "idea_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_h2h_stats_score",
            ["round_id", "active", "score", "shuffle_key", "idea_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_h2h_stats_shuffle", ["round_id", "active", "shuffle_key", "idea_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("head_to_head_stats", schema=None) as batch_op:
        batch_op.drop_index("ix_h2h_stats_shuffle")
        batch_op.drop_index("ix_h2h_stats_score")
        batch_op.drop_index("ix_h2h_stats_fewest")

    op.drop_table("head_to_head_stats")
    with op.batch_alter_table("head_to_head_choices", schema=None) as batch_op:
        batch_op.drop_index("uq_h2h_choices_voter_pair")
        batch_op.drop_index("ix_h2h_choices_round_cast")
        batch_op.drop_index(
            "ix_h2h_choices_held",
            sqlite_where=sa.text("status = 'held'"),
            postgresql_where=sa.text("status = 'held'"),
        )

    op.drop_table("head_to_head_choices")
