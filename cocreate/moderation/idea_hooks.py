"""Moderation's part in the ideas feature, registered in `cocreate.ideas.hooks` when this
package is imported: submitted ideas are screened, and an idea's page shows its credited
authors, the change its author was asked for, and its history to the brand's staff."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign
from cocreate.clock import Clock
from cocreate.ideas import hooks
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.moderation.history import (
    HISTORY_ROLES,
    changes_requested,
    credited_authors,
    history,
)
from cocreate.moderation.labels import action_label, reason_label
from cocreate.moderation.screening import prescreen_idea, resubmit_after_changes
from cocreate.security.permissions import has_brand_role


class ModerationScreening:
    """Every submitted idea goes through the pre-screen; a returned one back to the queue."""

    def returned_for_changes(self, *, session: Session, idea_id: int) -> bool:
        return changes_requested(session=session, idea_id=idea_id) is not None

    def screen(self, *, session: Session, idea: Idea, clock: Clock, base_url: str) -> None:
        prescreen_idea(session=session, idea=idea, clock=clock, base_url=base_url)

    def resubmit(self, *, session: Session, idea: Idea, clock: Clock, base_url: str) -> bool:
        return resubmit_after_changes(session=session, idea=idea, clock=clock, base_url=base_url)


def idea_page(
    *, session: Session, idea: Idea, campaign: Campaign, brand: Brand, user: User | None
) -> Mapping[str, Any]:
    """What an idea's page shows about its moderation, for this visitor."""
    idea_id = idea.id or 0
    staff = has_brand_role(session=session, user=user, brand=brand, roles=HISTORY_ROLES)
    return {
        "credited": [
            u.display_name
            for u in credited_authors(session=session, idea_id=idea_id)
            if u.deleted_at is None
        ],
        "changes_requested": _changes_note(session, idea, user),
        "history": history(session=session, idea_id=idea_id) if staff else None,
        "history_url": f"/brands/{brand.slug}/moderation/ideas/{idea.id}/history",
        "action_label": action_label,
        "reason_label": reason_label,
    }


def _changes_note(session: Session, idea: Idea, user: User | None) -> str | None:
    """What the moderator asked the author to change, shown to the author only."""
    if user is None or user.id != idea.author_id or idea.status != IdeaStatus.DRAFT:
        return None
    request = changes_requested(session=session, idea_id=idea.id or 0)
    return request.note if request is not None else None


def register() -> None:
    hooks.register_screening(ModerationScreening())
    hooks.register_page_part(idea_page)
