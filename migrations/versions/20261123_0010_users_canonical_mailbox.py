"""users.canonical_mailbox for the fraud checks: one mailbox however it is spelled

Revision ID: 0010
Revises: 0007
Create Date: 2026-11-23 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from cocreate.fraud.log import canonical_mailbox

revision: str = "0010"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "canonical_mailbox", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_users_canonical_mailbox"), ["canonical_mailbox"], unique=False
        )
    # Backfill in keyset batches: the rule lives in Python (cocreate.fraud.log), not SQL.
    users = sa.table(
        "users", sa.column("id", sa.Integer()), sa.column("email"), sa.column("canonical_mailbox")
    )
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(users.c.id, users.c.email)
            .where(users.c.id > last, users.c.email.is_not(None))
            .order_by(users.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            users.update()
            .where(users.c.id == sa.bindparam("k_id"))
            .values(canonical_mailbox=sa.bindparam("mailbox")),
            [{"k_id": row.id, "mailbox": canonical_mailbox(row.email)} for row in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_canonical_mailbox"))
        batch_op.drop_column("canonical_mailbox")
