"""Claims: a moderator reviewing an idea holds it for a few minutes, so that two moderators do
not review the same idea at once.

A claim is one row per idea (primary key) written by an `INSERT ... ON CONFLICT DO UPDATE ...
WHERE the claim expired or is mine ... RETURNING`: only one request gets a row back, on any
number of workers and hosts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.db import begin_write
from cocreate.moderation.models import ModerationClaim

CLAIM_MINUTES = 5


def claim(*, session: Session, idea_id: int, moderator_id: int, now: datetime) -> bool:
    """Take (or renew) the claim on an idea; False when another moderator holds it. Commits.

    A moderator holds one claim at a time: taking one gives back the others.
    """
    begin_write(session)
    table = ModerationClaim.__table__  # type: ignore[attr-defined]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {
        "idea_id": idea_id,
        "moderator_id": moderator_id,
        "claimed_at": now,
        "expires_at": now + timedelta(minutes=CLAIM_MINUTES),
    }
    statement = dialect.insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.idea_id],
        set_={k: statement.excluded[k] for k in ("moderator_id", "claimed_at", "expires_at")},
        where=or_(table.c.expires_at <= now, table.c.moderator_id == moderator_id),
    ).returning(table.c.moderator_id)
    try:
        won = session.execute(statement).first() is not None
    except IntegrityError:  # the idea was deleted meanwhile
        session.rollback()
        return False
    if won:
        session.execute(
            delete(ModerationClaim).where(
                col(ModerationClaim.moderator_id) == moderator_id,
                col(ModerationClaim.idea_id) != idea_id,
            )
        )
    session.commit()
    return won


def claim_holder(*, session: Session, idea_id: int, now: datetime) -> tuple[int, str] | None:
    """(user id, display name) of whoever holds an unexpired claim on the idea."""
    row = session.exec(
        select(User.id, User.display_name)
        .join(ModerationClaim, col(ModerationClaim.moderator_id) == col(User.id))
        .where(ModerationClaim.idea_id == idea_id, ModerationClaim.expires_at > now)
    ).first()
    return (int(row[0]), row[1]) if row and row[0] is not None else None
