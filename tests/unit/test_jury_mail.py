"""Jurors are told by email, once, when a jury stage opens, in their own language."""

from __future__ import annotations

from collections.abc import Callable
from email.header import decode_header, make_header
from email.message import Message

from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.audit.models import AuditEvent
from cocreate.campaigns.models import CampaignStatus, StageKind
from cocreate.jury.mail import NOTICE, tell_jurors
from tests.conftest import Mailbox
from tests.http.test_results_pages import jury_contest  # noqa: F401  (fixture)
from tests.results_support import DAY, T0, Contest, add_juror, make_contest

BASE = "http://testserver"


def subject(mail: Message) -> str:
    return str(make_header(decode_header(mail["Subject"])))


def body(mail: Message) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_each_juror_is_told_once_when_scoring_opens(
    session: Session,
    mailbox: Mailbox,
    deliver: Callable[[], int],
    client: TestClient,
    jury_contest: Contest,  # noqa: F811
) -> None:
    # `client` runs the app's lifespan, whose end closes the pool `deliver` sends through.
    contest = jury_contest  # two ideas went on to the jury
    ana = add_juror(session, contest.brand, "ana@example.com")
    lea = add_juror(session, contest.brand, "lea@example.com")
    lea.locale = "fr"
    gone = add_juror(session, contest.brand, "gone@example.com")
    gone.disabled = True
    session.add_all([lea, gone])
    session.commit()

    assert tell_jurors(session=session, base_url=BASE, now=T0 + 9 * DAY) == 0  # not yet
    assert tell_jurors(session=session, base_url=BASE, now=T0 + 11 * DAY) == 2
    assert tell_jurors(session=session, base_url=BASE, now=T0 + 12 * DAY) == 0  # once
    assert deliver() == 2
    mails = {m["To"]: m for m in mailbox.messages}
    assert set(mails) == {ana.email, lea.email}
    english = mails[ana.email]
    assert subject(english) == "Scoring is open: Flavour"
    text = body(english)
    assert "2 ideas of Flavour wait for your scores" in text
    assert f"{BASE}/brands/crispy/campaigns/flavour/jury" in text
    assert "Mar 21, 2026" in text  # when scoring closes, in the campaign's time zone
    french = mails[lea.email]
    assert subject(french) == "Les notes sont ouvertes : Flavour"
    assert "21 mars 2026" in body(french)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == NOTICE)).one()
    assert event.subject_id == contest.jury_stage.id and event.data["jurors"] == 2


def test_no_mail_for_a_campaign_that_is_not_published_or_a_stage_already_closed(
    session: Session,
) -> None:
    contest = make_contest(session, later=(StageKind.JURY,))
    add_juror(session, contest.brand, "ana@example.com")
    assert tell_jurors(session=session, base_url=BASE, now=T0 + 25 * DAY) == 0  # closed
    contest.campaign.status = CampaignStatus.DRAFT
    session.add(contest.campaign)
    session.commit()
    assert tell_jurors(session=session, base_url=BASE, now=T0 + 11 * DAY) == 0
