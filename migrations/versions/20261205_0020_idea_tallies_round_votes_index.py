"""idea_tallies: an index of a round's tallies by votes, for the gallery's "most voted"

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 18:50:00

The gallery shows the current round's votes (cocreate/voting/gallery_counts.py) and walks
this index for its "most voted" order instead of sorting every idea of the campaign.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idea_tallies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_idea_tallies_round_votes", ["round_id", "votes", "idea_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("idea_tallies", schema=None) as batch_op:
        batch_op.drop_index("ix_idea_tallies_round_votes")
