"""The fraud review pages through HTTP: the list, a case's evidence, the decisions and who
may make them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.audit.models import AuditEvent
from cocreate.brands.models import Brand, Role
from cocreate.clock import FrozenClock
from cocreate.fraud import cases
from cocreate.fraud.models import FraudCase
from cocreate.results.certify import certify_round
from cocreate.voting.service import live_tally, recount
from tests.brand_factories import add_member, make_brand
from tests.conftest import _PASSWORD_HASH, csrf_from, log_in, reload
from tests.fraud_support import Attacked, make_attacked
from tests.results_support import DAY, T0, decide_held_votes

CLOSED = T0 + 11 * DAY
BASE = "/brands/crispy/fraud"


@dataclass
class World:
    attacked: Attacked
    case: FraudCase
    moderator: User
    owner: User
    consumer: User
    other_moderator: User
    other_brand: Brand


@pytest.fixture
def world(session: Session, make_user: Callable[..., User], clock: FrozenClock) -> World:
    clock.at = T0 + 3 * DAY
    attacked = make_attacked(session)
    moderator = make_user("mod@example.com", name="Mia Moderator")
    owner = make_user("owner@example.com")
    consumer = make_user("consumer@example.com")
    other_moderator = make_user("mod-b@example.com")
    add_member(session, attacked.contest.brand, moderator, Role.MODERATOR)
    add_member(session, attacked.contest.brand, owner, Role.OWNER)
    other = make_brand(session, "other-brand", members=[(other_moderator, Role.MODERATOR)])
    loaded = cases.read_round_log(session=session, round_id=attacked.contest.round.id or 0)
    cases.store_findings(
        session=session,
        round_=attacked.contest.round,
        loaded=loaded,
        findings=[attacked.finding(session)],
        now=T0 + 3 * DAY,
    )
    case = session.exec(select(FraudCase)).one()
    return World(attacked, case, moderator, owner, consumer, other_moderator, other)


def decide(client: TestClient, url: str, action: str, reason: str = "") -> object:
    token = csrf_from(client, "/account")
    return client.post(url, data={"csrf_token": token, "action": action, "reason": reason})


def tally_matches(session: Session, world: World) -> None:
    session.rollback()
    round_id = world.attacked.contest.round.id or 0
    assert live_tally(session=session, round_id=round_id) == recount(
        session=session, round_id=round_id
    )


def test_a_moderator_lists_cases_and_reads_the_evidence(client: TestClient, world: World) -> None:
    log_in(client, world.moderator)
    home = client.get("/brands/crispy").text
    assert f'href="{BASE}"' in home and "Fraud review" in home
    page = client.get(BASE)
    assert page.status_code == 200
    assert f'data-case="{world.case.id}"' in page.text and "Lockstep ring" in page.text
    assert "0.90" in page.text
    # Filters: another kind, or cleared cases only, hide it.
    assert f'data-case="{world.case.id}"' not in client.get(f"{BASE}?kind=burst").text
    assert f'data-case="{world.case.id}"' not in client.get(f"{BASE}?status=cleared").text
    round_id = world.attacked.contest.round.id
    assert f'data-case="{world.case.id}"' in client.get(f"{BASE}?round={round_id}&status=all").text
    assert client.get(f"{BASE}?round=abc&status=%00&kind=x").status_code == 200

    detail = client.get(f"{BASE}/cases/{world.case.id}")
    assert detail.status_code == 200
    text = detail.text
    for voter in world.attacked.ring:
        assert voter.display_name in text and f'data-account="{voter.id}"' in text
    assert "Idea E" in text
    assert '<svg class="timeline"' in text and '<rect class="target"' in text
    assert "ffffffffff…" in text and "f" * 32 not in text  # a hash prefix, never the hash
    assert "python-requests/2.32" in text
    assert 'name="csrf_token"' in text and 'value="void"' in text


def test_voiding_a_case_recounts_at_once_and_restore_undoes_it(
    client: TestClient, session: Session, world: World
) -> None:
    log_in(client, world.moderator)
    url = f"{BASE}/cases/{world.case.id}/decide"
    idea_e = world.attacked.contest.ideas[4].id or 0
    round_id = world.attacked.contest.round.id or 0
    before = live_tally(session=session, round_id=round_id)[idea_e][0]

    missing = decide(client, url, "void", "   ")
    assert missing.status_code == 400  # type: ignore[attr-defined]
    assert "Give a reason" in missing.text  # type: ignore[attr-defined]

    done = decide(client, url, "void", "four accounts, one network")
    assert done.status_code == 303  # type: ignore[attr-defined]
    page = client.get(done.headers["location"]).text  # type: ignore[attr-defined]
    assert "The case&#39;s votes are void (8)" in page and 'data-status="voided"' in page
    tally_matches(session, world)
    assert live_tally(session=session, round_id=round_id)[idea_e][0] == before - 3
    reload(session, world.case)
    assert world.case.decided_by_id == world.moderator.id
    assert world.case.decision_reason == "four accounts, one network"

    again = decide(client, url, "void", "twice")
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert "Someone else has just decided" in again.text  # type: ignore[attr-defined]

    restored = decide(client, url, "restore")
    assert restored.status_code == 303  # type: ignore[attr-defined]
    tally_matches(session, world)
    assert live_tally(session=session, round_id=round_id)[idea_e][0] == before
    cleared = decide(client, url, "clear", "a fan club")
    assert cleared.status_code == 303  # type: ignore[attr-defined]
    reload(session, world.case)
    assert world.case.status == "cleared"
    actions = [
        a
        for a in session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
        if a.startswith("fraud_case.")
    ]
    assert actions == ["fraud_case.voided", "fraud_case.restored", "fraud_case.cleared"]


def test_a_certified_round_refuses_a_void_with_a_clear_message(
    client: TestClient, session: Session, world: World
) -> None:
    cases.clear_case(
        session=session, case=world.case, actor_id=world.owner.id or 0, reason="", now=CLOSED
    )
    decide_held_votes(session, world.attacked.contest, "count")
    certify_round(session=session, round_=world.attacked.contest.round, now=CLOSED)
    log_in(client, world.owner)
    url = f"{BASE}/cases/{world.case.id}/decide"
    refused = decide(client, url, "restore", "")
    assert refused.status_code == 409  # type: ignore[attr-defined]
    refused = decide(client, url, "void", "too late")
    assert refused.status_code == 409  # type: ignore[attr-defined]
    page = client.get(f"{BASE}/cases/{world.case.id}").text
    assert "The results of this round are certified" in page


def test_suspending_the_accounts_signs_them_out(
    client: TestClient, session: Session, world: World, app: object
) -> None:
    member = world.attacked.ring[0]
    member.password_hash = _PASSWORD_HASH
    session.add(member)
    session.commit()
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as theirs:  # type: ignore[arg-type]
        log_in(theirs, member)
        assert theirs.get("/account").status_code == 200
        log_in(client, world.moderator)
        url = f"{BASE}/cases/{world.case.id}/decide"
        assert decide(client, url, "suspend", "").status_code == 400  # type: ignore[attr-defined]
        done = decide(client, url, "suspend", "one person behind them")
        assert done.status_code == 303  # type: ignore[attr-defined]
        assert theirs.get("/account").status_code == 303  # signed out
        reload(session, member)
        assert member.disabled
        assert decide(client, url, "unsuspend").status_code == 303  # type: ignore[attr-defined]
        reload(session, member)
        assert not member.disabled


def test_a_scan_can_be_run_from_the_page(
    client: TestClient, world: World, run_jobs: Callable[[], None]
) -> None:
    log_in(client, world.moderator)
    token = csrf_from(client, BASE)
    round_id = world.attacked.contest.round.id
    done = client.post(f"{BASE}/scan", data={"csrf_token": token, "round": str(round_id)})
    assert done.status_code == 303
    run_jobs()  # the scan is a job now: run it, then read the page
    assert "Scan done: 20 votes by 10 accounts" in client.get(done.headers["location"]).text
    other = client.post(f"{BASE}/scan", data={"csrf_token": token, "round": "999999"})
    assert "Choose a round to scan." in client.get(other.headers["location"]).text


def test_a_moderator_of_another_brand_can_do_nothing(
    client: TestClient, session: Session, world: World, run_jobs: Callable[[], None]
) -> None:
    log_in(client, world.other_moderator)
    assert client.get(BASE).status_code == 403
    assert client.get(f"{BASE}/cases/{world.case.id}").status_code == 403
    assert decide(client, f"{BASE}/cases/{world.case.id}/decide", "void", "x").status_code == 403  # type: ignore[attr-defined]
    # Through their own brand, the case does not exist.
    mine = "/brands/other-brand/fraud"
    assert client.get(mine).status_code == 200
    assert f'data-case="{world.case.id}"' not in client.get(f"{mine}?status=all").text
    assert client.get(f"{mine}/cases/{world.case.id}").status_code == 404
    assert decide(client, f"{mine}/cases/{world.case.id}/decide", "void", "x").status_code == 404  # type: ignore[attr-defined]
    token = csrf_from(client, mine)
    round_id = world.attacked.contest.round.id
    scan = client.post(f"{mine}/scan", data={"csrf_token": token, "round": str(round_id)})
    assert scan.status_code == 303
    run_jobs()  # had a scan been queued, it would have run by now
    reload(session, world.case)
    assert world.case.status == "open" and world.case.scanned_at == T0 + 3 * DAY
    tally_matches(session, world)


@pytest.mark.parametrize("who", ["consumer", "anonymous"])
def test_consumers_and_visitors_cannot_see_the_review(
    client: TestClient, world: World, who: str
) -> None:
    if who == "consumer":
        log_in(client, world.consumer)
    for path in (BASE, f"{BASE}/cases/{world.case.id}"):
        response = client.get(path)
        if who == "anonymous":
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")
        else:
            assert response.status_code == 403
    if who == "consumer":
        home = client.get("/")
        assert "/fraud" not in home.text


def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, session: Session, world: World
) -> None:
    log_in(client, world.moderator)
    response = client.post(
        f"{BASE}/cases/{world.case.id}/decide", data={"action": "void", "reason": "x"}
    )
    assert response.status_code == 403
    reload(session, world.case)
    assert world.case.status == "open"


def test_an_unknown_action_is_a_form_error(client: TestClient, world: World) -> None:
    log_in(client, world.moderator)
    response = decide(client, f"{BASE}/cases/{world.case.id}/decide", "delete", "x")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "Choose one of the options." in response.text  # type: ignore[attr-defined]
