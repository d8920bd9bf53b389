"""an index of ideas by image key, for the media rule that decides who may fetch an image

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 05:20:00

Every request for an idea's image file looks the idea up by its image's key to decide whether
the file is public, private to its author and the brand, or nobody's
(`ideas.service.image_audience`); without an index that is a scan of the ideas table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ideas_image_key", "ideas", ["image_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ideas_image_key", table_name="ideas")
