"""The images of finally rejected ideas are deleted (the app runs this periodically)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cocreate.clock import Clock, system_clock
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.images import delete_image
from cocreate.moderation.models import ModerationDecision
from cocreate.moderation.rules import UNDO_SECONDS
from cocreate.storage import Storage

# A moderator's rejection is final once its undo window has passed (see `rules.refusal`): the
# idea's image is deleted then, with a minute to spare for clocks that differ between hosts.
PURGE_REJECTED_AFTER = timedelta(seconds=UNDO_SECONDS + 60)
PURGE_BATCH = 100


def purge_rejected_images(
    *, session: Session, storage: Storage, clock: Clock = system_clock
) -> int:
    """Delete the image files of rejected ideas whose rejection is final (decided by a
    moderator, past its undo window); returns how many images went. Commits.

    An automatic rejection keeps its image: a moderator may still approve the idea. Until its
    files go, a rejected idea's image is served only to whoever may see the idea
    (`ideas.visibility.image_audience`). Safe to run on several hosts at once: each key is
    cleared by a conditional update, and only the run that cleared it deletes the files.
    """
    cutoff = clock.now() - PURGE_REJECTED_AFTER
    latest = (
        sa_select(func.max(ModerationDecision.id))
        .where(col(ModerationDecision.idea_id) == col(Idea.id))
        .correlate(Idea)
        .scalar_subquery()
    )
    rows = session.exec(
        select(Idea.id, Idea.image_key)
        .join(ModerationDecision, col(ModerationDecision.id) == latest)
        .where(
            col(Idea.image_key).is_not(None),
            Idea.status == IdeaStatus.REJECTED,
            col(ModerationDecision.automatic).is_(False),
            col(ModerationDecision.at) < cutoff,
        )
        .limit(PURGE_BATCH)
    ).all()
    session.commit()  # end the read: each clearing below is a write transaction of its own
    purged = 0
    for idea_id, image_key in rows:
        assert image_key is not None
        cleared = session.execute(
            update(Idea)
            .execution_options(synchronize_session=False)
            .where(
                col(Idea.id) == idea_id,
                col(Idea.image_key) == image_key,
                col(Idea.status) == IdeaStatus.REJECTED,
            )
            .values(image_key=None)
        )
        session.commit()
        if cleared.rowcount == 1:  # type: ignore[attr-defined]
            delete_image(storage, image_key)
            purged += 1
    return purged
