"""Who may act on an idea, as route access rules."""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request

from cocreate.accounts.models import User
from cocreate.ideas.models import Idea
from cocreate.integers import ID_MAX
from cocreate.security.access import Access


def _is_author(request: Request, user: User | None, session: Session) -> bool:
    if user is None:
        return False
    idea_id = request.path_params.get("idea_id")
    if not isinstance(idea_id, int) or idea_id > ID_MAX:
        return True  # no such idea: the handler answers 404, as it does for everyone
    idea = session.get(Idea, idea_id)
    return idea is None or idea.author_id == user.id


IDEA_AUTHOR = Access("idea author", _is_author, owner_only=True)
