"""Who came through whose share link, and how many visits a sharer's links brought.

`note_arrival` runs on the pages a shared link opens (a campaign, an idea): with a valid
`?ref=` it records the visit (once a day per visitor) and, for a visitor not signed in,
remembers it in the session until they sign in (`attach_on_sign_in`). What the arrivals
then vote is counted by the voting feature, which owns votes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select
from starlette.requests import Request

from cocreate.sharing.models import ShareArrival
from cocreate.sharing.refs import share_code, sharer_of, visitor_key

SESSION_KEY = "share_arrival"


def _same_target(idea_id: int | None) -> ColumnElement[bool]:
    if idea_id is None:
        return col(ShareArrival.idea_id).is_(None)
    return col(ShareArrival.idea_id) == idea_id


def arrived(
    *,
    session: Session,
    sharer_id: int,
    campaign_id: int,
    idea_id: int | None,
    visitor: str,
    user_id: int | None,
    now: datetime,
) -> int:
    """The arrival of this visitor today through this sharer's link (recorded if new);
    a signed-in visitor's account is set on it. Commits."""
    day = now.date()
    found = session.exec(
        select(ShareArrival).where(
            ShareArrival.sharer_id == sharer_id,
            ShareArrival.campaign_id == campaign_id,
            _same_target(idea_id),
            ShareArrival.visitor == visitor,
            ShareArrival.day == day,
        )
    ).first()
    if found is None:
        found = ShareArrival(
            sharer_id=sharer_id,
            campaign_id=campaign_id,
            idea_id=idea_id,
            visitor=visitor,
            day=day,
            user_id=user_id,
            arrived_at=now,
        )
        session.add(found)
    elif found.user_id is None and user_id is not None:
        found.user_id = user_id
        session.add(found)
    else:
        return found.id or 0
    session.commit()
    return found.id or 0


def attach(*, session: Session, arrival_id: int, user_id: int) -> None:
    """The visitor of an arrival signed in as `user_id` (never the sharer). Commits."""
    arrival = session.get(ShareArrival, arrival_id)
    if arrival is None or arrival.user_id is not None or arrival.sharer_id == user_id:
        return
    arrival.user_id = user_id
    session.add(arrival)
    session.commit()


def visits(*, session: Session, sharer_id: int, campaign_id: int, idea_id: int | None) -> int:
    """Visits the sharer's link brought: one per visitor and day."""
    distinct = (
        select(col(ShareArrival.visitor), col(ShareArrival.day))
        .where(
            ShareArrival.sharer_id == sharer_id,
            ShareArrival.campaign_id == campaign_id,
            _same_target(idea_id),
        )
        .distinct()
        .subquery()
    )
    return int(session.exec(select(func.count()).select_from(distinct)).one())


def share_url(
    request: Request, url: str, campaign_id: int, idea_id: int | None, user_id: int | None
) -> str:
    """The page's address to share: with the signed-in person's `ref` (`user_id`, the
    account the request's checks found, not the cookie's claim), so that what it brings is
    counted for them."""
    if user_id is None:
        return url
    secret = request.app.state.settings.secret_key
    return f"{url}?ref={share_code(secret, user_id, campaign_id, idea_id)}"


def note_arrival(
    request: Request, session: Session, campaign_id: int, idea_id: int | None, user_id: int | None
) -> None:
    """Record a visit that came through a share link (`?ref=`); anything not a valid code
    for this page is ignored."""
    code = request.query_params.get("ref")
    if not code:
        return
    settings = request.app.state.settings
    sharer_id = sharer_of(settings.secret_key, code, campaign_id, idea_id)
    if sharer_id is None or sharer_id == user_id:
        return
    now = request.app.state.clock.now()
    address = request.client.host if request.client else ""
    visitor = visitor_key(
        settings.secret_key, now.date(), address, request.headers.get("user-agent", "")
    )
    arrival = arrived(
        session=session,
        sharer_id=sharer_id,
        campaign_id=campaign_id,
        idea_id=idea_id,
        visitor=visitor,
        user_id=user_id,
        now=now,
    )
    if user_id is None:
        request.session[SESSION_KEY] = arrival


def attach_on_sign_in(session: Session, user_id: int, arrival: object) -> None:
    """After a sign-in: the arrival the visitor made before it, if any, is theirs."""
    if isinstance(arrival, int):
        attach(session=session, arrival_id=arrival, user_id=user_id)
