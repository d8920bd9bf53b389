"""The head-to-head voting method (cocreate/voting/methods/head_to_head*.py), through HTTP on
both databases: the round form, the ballot's pair, a choice by htmx and by a plain form, the
refusals (CSRF, not signed in, forged pair, closed round, rate limit, ineligible), the
results, certification, the CSV and verify-results."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.fraud.loader import read_round_log
from cocreate.headtohead import chooser, offer
from cocreate.headtohead.models import HeadToHeadChoice, HeadToHeadStats
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.results.certify import certify_round
from cocreate.results.models import RoundResult
from cocreate.results.rounds import campaign_rounds
from cocreate.results.verify import verify_round
from cocreate.voting.methods import registry
from cocreate.voting.methods.head_to_head import HeadToHead
from cocreate.voting.models import Round
from tests.conftest import log_in
from tests.voting_support import DAY, T0, VotingWorld, htmx_post, make_voting_world, token

PAIR = re.compile(r'name="pair" value="([^"]+)"')
TITLES = re.compile(r'<h3 id="battle-(left|right)-title">([^<]+)</h3>')


def shown_pair(html: str) -> tuple[str, dict[str, str]]:
    """(the pair's token, side -> idea title) of a ballot page or a pair block."""
    found = PAIR.search(html)
    assert found, "no pair on the page"
    return found.group(1), dict(TITLES.findall(html))


def choices(session: Session) -> list[HeadToHeadChoice]:
    session.rollback()
    return list(session.exec(select(HeadToHeadChoice).order_by(HeadToHeadChoice.id)).all())  # type: ignore[arg-type]


def world_of(session: Session, owner: User, clock: FrozenClock, **settings: Any) -> VotingWorld:
    """A head-to-head round open now, over four ideas, 60 choices a minute."""
    values = {"method": "head_to_head", "max_votes": 60, "visibility": "live"} | settings
    return make_voting_world(session, owner, now=clock.now(), ideas=4, **values)


def choice_url(world: VotingWorld) -> str:
    return f"/c/{world.campaign.slug}/choice"


def test_the_registry_offers_it_and_the_round_form_checks_its_settings(
    client: TestClient, session: Session, clock: FrozenClock, make_user: Callable[..., User]
) -> None:
    assert isinstance(registry.get("head_to_head"), HeadToHead)
    clock.at = T0 - 3 * DAY
    owner = make_user("owner@example.com")
    world = make_voting_world(session, owner, ideas=3)
    log_in(client, owner)
    assert "Head to head: pick the better of two ideas" in client.get(world.round_url).text
    settings = {
        "method": "head_to_head",
        "max_votes": "500",
        "frequency": "daily",
        "require_verified_email": "on",
        "min_account_age_days": "0",
        "advancement": "top_n",
        "advancement_value": "1",
        "tie_break": "earlier_submission",
        "visibility": "live",
    }
    refused = client.post(
        world.round_url, data={"csrf_token": token(client, world.round_url), **settings}
    )
    assert refused.status_code == 400
    assert "A head-to-head round allows at most 120 choices a minute." in refused.text
    refused = client.post(
        world.round_url,
        data={"csrf_token": token(client, world.round_url), **settings},
        headers={"accept-language": "fr"},
    )
    assert "Un tour en face-à-face" in refused.text
    settings |= {"max_votes": "30", "frequency": "once"}
    saved = client.post(
        world.round_url, data={"csrf_token": token(client, world.round_url), **settings}
    )
    assert saved.status_code == 303, saved.text
    session.expire_all()
    round_ = session.get(Round, world.round.id)
    assert round_ is not None and round_.method == "head_to_head" and round_.max_votes == 30


def test_choices_by_htmx_and_plain_form_then_certified_and_verified(
    client: TestClient, session: Session, clock: FrozenClock, make_user: Callable[..., User]
) -> None:
    owner = make_user("owner@example.com")
    world = world_of(session, owner, clock)
    apple = world.ideas[0]
    voter = make_user("voter@example.com")
    log_in(client, voter)
    page = client.get(world.ballot_url)
    assert "Which idea do you prefer?" in page.text
    assert "you can make up to 60 choices a minute." in page.text
    pair_token, titles = shown_pair(page.text)
    csrf = token(client, world.ballot_url)
    # A plain form: a redirect back to the ballot, with the message.
    posted = client.post(
        choice_url(world),
        data={"csrf_token": csrf, "pair": pair_token, "outcome": "left"},
        follow_redirects=False,
    )
    assert posted.status_code == 303 and posted.headers["location"].endswith("/vote#battle")
    assert "Your choice is recorded." in client.get(posted.headers["location"]).text
    # htmx: the next pair's block; always the idea titled on the left wins when it is Apple.
    for _n in range(5):
        pair_token, titles = shown_pair(client.get(world.ballot_url).text)
        outcome = "right" if titles["right"] == apple.title else "left"
        answer = htmx_post(
            client, choice_url(world), csrf, {"pair": pair_token, "outcome": outcome}
        )
        assert answer.status_code == 200 and answer.text.lstrip().startswith('<section id="battle"')
        assert "Your choice is recorded." in answer.text
    made = choices(session)
    assert len(made) == 6 and {c.status for c in made} == {"counted"}
    assert len({(c.low_idea_id, c.high_idea_id) for c in made}) == 6  # every pair once
    assert all(c.ip_hash and c.device_id and c.user_agent is not None for c in made)
    # A pair already judged, posted again, changes nothing.
    again = htmx_post(client, choice_url(world), csrf, {"pair": pair_token, "outcome": "tie"})
    assert "You had already judged this pair" in again.text
    assert len(choices(session)) == 6
    # Every pair of four ideas judged: none left.
    assert "You have judged every pair we can show you." in client.get(world.ballot_url).text
    # Live results: the ranking with intervals.
    results = client.get(f"/c/{world.campaign.slug}/results?round=1").text
    assert "Score (95% interval)" in results and "6 choices counted in all." in results
    # Certified: the digest covers the choices, the CSV is the choice log, verify agrees.
    clock.at = world.stage.closes_at + DAY
    session.rollback()
    round_ = session.get(Round, world.round.id)
    assert round_ is not None
    assert len(read_round_log(session=session, round_id=round_.id or 0).log) == 6
    session.rollback()
    certify_round(session=session, round_=round_, now=clock.now())
    session.commit()
    standings = session.exec(select(RoundResult).order_by(RoundResult.position)).all()  # type: ignore[arg-type]
    assert [r.idea_id for r in standings][0] in {c.left_idea_id for c in made} | {
        c.right_idea_id for c in made
    }
    assert sum(r.votes for r in standings) == 12  # comparisons: two ideas per choice
    (info,) = campaign_rounds(session=session, campaign_id=world.campaign.id or 0)
    assert verify_round(session=session, info=info).ok
    log = client.get(f"/c/{world.campaign.slug}/votes.csv?round=1").text
    header, _, lines = log.partition("\n")
    assert header == "choice_id,voter,left_idea_id,right_idea_id,outcome,status,cast_at"
    assert lines.count("\n") == 6
    session.refresh(round_)
    assert hashlib.sha256(lines.encode()).hexdigest() == round_.digest
    certified = client.get(f"/c/{world.campaign.slug}/results?round=1").text
    assert "Score (95% interval)" in certified and "goes on" in certified


def test_an_idea_that_always_wins_ranks_first(
    client: TestClient, session: Session, clock: FrozenClock, make_user: Callable[..., User]
) -> None:
    owner = make_user("owner@example.com")
    world = world_of(session, owner, clock)
    apple = world.ideas[0]
    for n in range(4):
        client.cookies.clear()
        log_in(client, make_user(f"voter{n}@example.com"))
        csrf = token(client, world.ballot_url)
        for _n in range(6):
            html = client.get(world.ballot_url).text
            if "You have judged every pair" in html:
                break
            pair_token, titles = shown_pair(html)
            outcome = (
                "left"
                if titles["left"] == apple.title or titles["right"] > titles["left"]
                else "right"
            )
            if titles["right"] == apple.title:
                outcome = "right"
            htmx_post(client, choice_url(world), csrf, {"pair": pair_token, "outcome": outcome})
    clock.at = world.stage.closes_at + DAY
    session.rollback()
    round_ = session.get(Round, world.round.id)
    assert round_ is not None
    certify_round(session=session, round_=round_, now=clock.now())
    session.commit()
    first = session.exec(select(RoundResult).where(RoundResult.position == 1)).one()
    assert first.idea_id == apple.id and first.points == first.votes  # won every comparison


def test_refusals(
    client: TestClient,
    app: Any,
    session: Session,
    clock: FrozenClock,
    make_user: Callable[..., User],
) -> None:
    owner = make_user("owner@example.com")
    world = world_of(session, owner, clock, max_votes=3)
    voter = make_user("voter@example.com")
    # Not signed in: to the log-in page, nothing stored.
    anonymous = client.post(choice_url(world), data={"outcome": "left"}, follow_redirects=False)
    assert anonymous.status_code in (303, 403)
    log_in(client, voter)
    pair_token, _titles = shown_pair(client.get(world.ballot_url).text)
    csrf = token(client, world.ballot_url)
    # No CSRF token: refused.
    no_csrf = client.post(choice_url(world), data={"pair": pair_token, "outcome": "left"})
    assert no_csrf.status_code == 403
    # A forged or edited pair token: 400 with a new pair, nothing stored.
    forged = client.post(
        choice_url(world),
        data={"csrf_token": csrf, "pair": pair_token[:-3] + "abc", "outcome": "left"},
    )
    assert forged.status_code == 400
    assert "This pair was not offered to you" in forged.text and PAIR.search(forged.text)
    # An unknown outcome likewise.
    odd = client.post(
        choice_url(world), data={"csrf_token": csrf, "pair": pair_token, "outcome": "both"}
    )
    assert odd.status_code == 400
    assert choices(session) == []
    # The rate limit: three choices a minute, the fourth refused kindly (429), then allowed.
    for n in range(4):
        pair_token, _titles = shown_pair(client.get(world.ballot_url).text)
        answer = client.post(
            choice_url(world),
            data={"csrf_token": csrf, "pair": pair_token, "outcome": "tie"},
            follow_redirects=False,
        )
        assert answer.status_code == (303 if n < 3 else 429)
    assert "That was quick!" in answer.text
    assert len(choices(session)) == 3
    app.state.rate_limiter.reset()
    # An unverified account is refused with the reason.
    client.cookies.clear()
    unverified = make_user("new@example.com", verified=False)
    log_in(client, unverified)
    csrf_new = token(client, world.ballot_url)
    late = client.post(
        choice_url(world), data={"csrf_token": csrf_new, "pair": pair_token, "outcome": "left"}
    )
    assert late.status_code == 403 and "This round needs a confirmed email address" in late.text
    by_htmx = htmx_post(
        client, choice_url(world), csrf_new, {"pair": pair_token, "outcome": "left"}
    )
    assert by_htmx.headers["HX-Redirect"] == world.ballot_url and 'name="pair"' not in by_htmx.text
    # A closed round: back to the ballot with the reason, nothing stored.
    client.cookies.clear()
    log_in(client, voter)
    pair_token, _titles = shown_pair(client.get(world.ballot_url).text)
    csrf = token(client, world.ballot_url)
    clock.at = world.stage.closes_at + DAY
    closed = client.post(
        choice_url(world),
        data={"csrf_token": csrf, "pair": pair_token, "outcome": "left"},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    assert "This voting round is not open" in client.get(closed.headers["location"]).text
    assert len(choices(session)) == 3


@pytest.mark.parametrize("method", ["approval", "ranked"])
def test_other_rounds_do_not_take_choices(
    method: str,
    client: TestClient,
    session: Session,
    clock: FrozenClock,
    make_user: Callable[..., User],
) -> None:
    owner = make_user("owner@example.com")
    settings: dict[str, Any] = {"method": method, "max_votes": 2}
    if method == "ranked":
        settings["visibility"] = "hidden"
    world = make_voting_world(session, owner, now=clock.now(), **settings)
    log_in(client, make_user("voter@example.com"))
    csrf = token(client, world.ballot_url)
    answer = client.post(
        choice_url(world),
        data={"csrf_token": csrf, "pair": "x", "outcome": "left"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and choices(session) == []


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"challenge_above": 0, "refuse_above": 100}, "held"),  # a challenge: held instead
        ({"challenge_above": 0, "refuse_above": 5}, "refused"),
    ],
)
def test_fraud_layer_one_holds_or_refuses_a_choice(
    policy: dict[str, int],
    expected: str,
    client: TestClient,
    session: Session,
    clock: FrozenClock,
    make_user: Callable[..., User],
) -> None:
    """A brand-new account scores above 0 % (its age): the round's policy decides."""
    world = world_of(session, make_user("owner@example.com"), clock, fraud_policy=policy)
    log_in(client, make_user("voter@example.com"))
    pair_token, _titles = shown_pair(client.get(world.ballot_url).text)
    csrf = token(client, world.ballot_url)
    answer = htmx_post(client, choice_url(world), csrf, {"pair": pair_token, "outcome": "left"})
    made = choices(session)
    if expected == "held":
        assert "It will be checked before it counts." in answer.text
        assert [(c.status, c.risk_score > 0) for c in made] == [("held", True)]
        assert made[0].status_reason and made[0].status_reason.startswith("held")
        stats = session.exec(select(HeadToHeadStats)).all()
        assert sum(s.comparisons for s in stats) == 0  # a held choice moves nothing
    else:
        assert "We could not accept this vote" in answer.text
        assert made == []


def test_the_offered_ideas_follow_the_ballot(
    client: TestClient,
    app: Any,
    session: Session,
    clock: FrozenClock,
    make_user: Callable[..., User],
) -> None:
    """An idea hidden by reports leaves the pairs (a choice about it is refused with a new
    pair), a newly approved one joins them, once the round's ideas are brought up to date."""
    world = world_of(session, make_user("owner@example.com"), clock)
    apple, basil = world.ideas[0], world.ideas[1]
    voter = make_user("voter@example.com")
    log_in(client, voter)
    client.get(world.ballot_url)  # the four ideas enter
    apple.hidden_at = clock.now()
    late = Idea(
        campaign_id=world.campaign.id,  # type: ignore[arg-type]
        author_id=voter.id,  # type: ignore[arg-type]
        title="Idea Late",
        description="Approved during the vote.",
        status=IdeaStatus.APPROVED,
        submitted_at=clock.now(),
    )
    session.add_all([apple, late])
    session.commit()
    shown = offer.sign_pair(
        secret_key=app.state.settings.secret_key,
        round_id=world.round.id or 0,
        voter_id=voter.id or 0,
        pair=chooser.Pair(apple.id or 0, basil.id or 0),
    )
    csrf = token(client, world.ballot_url)
    answer = htmx_post(client, choice_url(world), csrf, {"pair": shown, "outcome": "left"})
    assert "One of these ideas left the round: here is another pair." in answer.text
    assert choices(session) == []
    app.state.rate_limiter.reset()  # as when the round's ideas are next brought up to date
    client.get(world.ballot_url)
    session.rollback()
    offered = {s.idea_id: s.active for s in session.exec(select(HeadToHeadStats)).all()}
    assert offered == {apple.id: False, late.id: True} | {i.id: True for i in world.ideas[1:]}


def test_a_new_voter_judging_pairs_quickly_is_not_taken_for_a_script(
    client: TestClient, session: Session, clock: FrozenClock, make_user: Callable[..., User]
) -> None:
    # Fifteen choices within a minute (every pair of six ideas) by an account made today: a
    # person's pace for pairs (the method's pace scales fraud layer 1's windows), though a
    # script's for fifteen votes on a ballot (ten a minute are free, then velocity rises).
    owner = make_user("owner@example.com")
    world = make_voting_world(
        session,
        owner,
        now=clock.now(),
        ideas=6,
        method="head_to_head",
        max_votes=60,
        visibility="live",
    )
    voter = make_user("new@example.com")
    voter.created_at = clock.now() - timedelta(hours=2)
    session.add(voter)
    session.commit()
    log_in(client, voter)
    csrf = token(client, world.ballot_url)
    for _n in range(15):
        pair_token, _titles = shown_pair(client.get(world.ballot_url).text)
        answer = htmx_post(client, choice_url(world), csrf, {"pair": pair_token, "outcome": "left"})
        assert "Your choice is recorded." in answer.text
    made = choices(session)
    assert len(made) == 15 and {c.status for c in made} == {"counted"}
    assert all("velocity" not in c.risk_signals for c in made)
