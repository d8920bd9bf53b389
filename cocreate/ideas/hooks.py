"""What features built on ideas add to it, without ideas importing them.

Moderation depends on ideas, never the reverse: it registers here, when its package is
imported (the app imports it), how a submitted idea is screened and what an idea's page
shows about its moderation. Submitting an idea with no screening registered is an error,
never a submission that skips moderation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign
from cocreate.clock import Clock
from cocreate.ideas.models import Idea


class Screening(Protocol):
    """How submitted ideas reach moderators. Each call runs in the submission's transaction
    and leaves the commit to the ideas feature."""

    def returned_for_changes(self, *, session: Session, idea_id: int) -> bool:
        """Whether a moderator sent this draft back to its author for changes."""
        ...

    def screen(self, *, session: Session, idea: Idea, clock: Clock, base_url: str) -> None:
        """Screen an idea just sent to moderation (it may reject it at once)."""
        ...

    def resubmit(self, *, session: Session, idea: Idea, clock: Clock, base_url: str) -> bool:
        """Send back to moderation a draft returned for changes (moves it to pending)."""
        ...


class IdeaPagePart(Protocol):
    """Adds entries to the context of an idea's page, for this visitor."""

    def __call__(
        self, *, session: Session, idea: Idea, campaign: Campaign, brand: Brand, user: User | None
    ) -> Mapping[str, Any]: ...


_screening: list[Screening] = []
_page_parts: list[IdeaPagePart] = []


def register_screening(screening: Screening) -> None:
    """Set the screening of submitted ideas (one at a time: the last registered)."""
    _screening[:] = [screening]


def screening() -> Screening:
    if not _screening:
        raise RuntimeError(
            "No screening of submitted ideas is registered: import cocreate.moderation"
        )
    return _screening[0]


def register_page_part(part: IdeaPagePart) -> None:
    if part not in _page_parts:
        _page_parts.append(part)


def page_parts() -> tuple[IdeaPagePart, ...]:
    return tuple(_page_parts)
