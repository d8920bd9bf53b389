"""What the winners page tells of each winner: picture, author and story, by rank (one
query for all of them)."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from sqlmodel import col, select
from starlette.requests import Request

from cocreate.accounts.models import User
from cocreate.ideas.models import Idea
from cocreate.images import url_of
from cocreate.markdown import summary_html
from cocreate.results.advancement import Winners
from cocreate.security.access import db


@dataclass(frozen=True)
class WinnerStory:
    idea_id: int
    place: int
    title: str
    author: str | None  # None: the author deleted their account
    picture_url: str | None  # the large photo; None: placeholder art
    story_html: Markup


def winner_stories(request: Request, found: Winners) -> list[WinnerStory]:
    if not found.ready or not found.ideas:
        return []
    session = db(request)
    ids = [row.idea_id for row in found.ideas]
    rows = session.exec(
        select(Idea, User)
        .join(User, col(User.id) == col(Idea.author_id), isouter=True)
        .where(col(Idea.id).in_(ids))
    ).all()
    by_id = {idea.id: (idea, user) for idea, user in rows}
    storage = request.app.state.storage
    stories = []
    for row in found.ideas:
        idea, user = by_id.get(row.idea_id, (None, None))
        stories.append(
            WinnerStory(
                idea_id=row.idea_id,
                place=row.place,
                title=row.title,
                author=user.display_name if user is not None and user.deleted_at is None else None,
                picture_url=url_of(storage, idea.image_key, "large") if idea else None,
                story_html=summary_html(idea.description if idea else "", 1200),
            )
        )
    return stories
