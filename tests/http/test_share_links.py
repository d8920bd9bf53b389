"""Share links say who shared: visits and votes they bring are counted for the sharer, and
only for the page they were made for."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.sharing.models import ShareArrival
from cocreate.sharing.refs import share_code, sharer_of
from cocreate.voting.share_votes import share_stats
from tests.conftest import _PASSWORD_HASH, log_in
from tests.results_support import DAY, T0, make_contest, write_votes

SECRET = "s" * 40


def with_passwords(session: Session, *users: User) -> None:
    for user in users:
        user.password_hash = _PASSWORD_HASH
        session.add(user)
    session.commit()


def ref_in(page: str, address: str) -> str:
    quoted = address.replace("http://", "http%3A//")
    found = re.search(re.escape(quoted) + r"%3Fref%3D([0-9a-z]+\.[0-9a-f]{16})", page)
    assert found is not None, "no share link with a ref"
    return found.group(1)


def test_codes_name_their_sharer_for_one_page_only() -> None:
    code = share_code(SECRET, 42, 7, 3)
    assert sharer_of(SECRET, code, 7, 3) == 42
    assert sharer_of(SECRET, code, 7, 4) is None  # another idea's address
    assert sharer_of(SECRET, code, 7, None) is None  # the campaign's
    assert sharer_of("t" * 40, code, 7, 3) is None  # another secret
    forged = code.replace(code.split(".")[0], "1b", 1)  # someone else's id, the same signature
    assert sharer_of(SECRET, forged, 7, 3) is None
    for junk in ("", "42", "zz.zz", "1." + "0" * 16, "%00", "9" * 40 + "." + "0" * 16):
        assert sharer_of(SECRET, junk, 7, 3) is None


def test_visits_and_votes_a_share_brought_are_counted_for_the_sharer(
    client: TestClient,
    session: Session,
    make_user: Callable[..., User],
    clock: FrozenClock,
) -> None:
    contest = make_contest(session, voters=2)
    with_passwords(session, contest.author, *contest.voters)
    idea, other = contest.ideas[0], contest.ideas[1]
    clock.at = T0 + DAY / 2
    address = f"http://testserver/c/flavour/ideas/{idea.id}"

    anonymous_page = client.get(f"/c/flavour/ideas/{idea.id}").text
    assert "ref%3D" not in anonymous_page  # nobody to credit
    log_in(client, contest.author)
    page = client.get(f"/c/flavour/ideas/{idea.id}").text
    code = ref_in(page, address)
    assert "brought 0 visits and 0 votes" in page
    # The sharer's own clicks on their link are not visits it brought.
    client.get(f"/c/flavour/ideas/{idea.id}?ref={code}")
    session.rollback()
    assert session.exec(select(ShareArrival)).all() == []

    friend, stranger = contest.voters
    client.cookies.clear()
    for _ in range(2):  # twice the same day: one visit
        assert client.get(f"/c/flavour/ideas/{idea.id}?ref={code}").status_code == 200
    # The code is for this idea: on another idea's address it credits nobody.
    client.get(f"/c/flavour/ideas/{other.id}?ref={code}")
    client.get(f"/c/flavour/ideas/{idea.id}?ref=0.{'0' * 16}")
    session.rollback()  # see what the app committed
    arrivals = session.exec(select(ShareArrival)).all()
    assert len(arrivals) == 1 and arrivals[0].user_id is None
    assert arrivals[0].sharer_id == contest.author.id and arrivals[0].idea_id == idea.id

    log_in(client, friend)  # the visitor signs in: the visit is theirs
    session.rollback()
    assert session.exec(select(ShareArrival)).one().user_id == friend.id

    # What they vote after arriving counts; what others vote, or votes for another idea, not.
    write_votes(session, contest.round, [(friend, idea, 1), (friend, other, 1)], at=T0 + DAY)
    write_votes(session, contest.round, [(stranger, idea, 1)], at=T0 + DAY)
    stats = share_stats(
        session=session,
        sharer_id=contest.author.id or 0,
        campaign_id=contest.campaign.id or 0,
        idea_id=idea.id,
    )
    assert (stats.visits, stats.votes) == (1, 1)
    client.cookies.clear()
    log_in(client, contest.author)
    assert "brought 1 visit and 1 vote." in client.get(f"/c/flavour/ideas/{idea.id}").text
    # Another reader of the page does not see the author's figures.
    client.cookies.clear()
    log_in(client, stranger)
    assert "brought" not in client.get(f"/c/flavour/ideas/{idea.id}").text


def test_a_campaign_link_credits_its_sharer_with_votes_on_any_idea(
    client: TestClient, session: Session, clock: FrozenClock
) -> None:
    contest = make_contest(session, voters=1)
    with_passwords(session, contest.author, *contest.voters)
    clock.at = T0 + DAY / 2
    log_in(client, contest.author)
    code = ref_in(client.get("/c/flavour").text, "http://testserver/c/flavour")
    (voter,) = contest.voters
    client.cookies.clear()
    log_in(client, voter)  # signed in already: the arrival is theirs at once
    client.get(f"/c/flavour?ref={code}")
    session.rollback()
    write_votes(session, contest.round, [(voter, contest.ideas[2], 1)], at=T0 + DAY)
    stats = share_stats(
        session=session,
        sharer_id=contest.author.id or 0,
        campaign_id=contest.campaign.id or 0,
        idea_id=None,
    )
    assert (stats.visits, stats.votes) == (1, 1)
