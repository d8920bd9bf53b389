"""rounds.method takes any registered voting method: the CHECK listing four goes

A voting method is a plug-in (`cocreate.voting.methods.registry`): a new one must need no
migration, so the database no longer lists the methods; the round form offers only the
registered ones.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.drop_constraint("round_method", type_="check")


def downgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.create_check_constraint(
            "round_method", "method IN ('approval', 'single', 'points', 'ranked')"
        )
