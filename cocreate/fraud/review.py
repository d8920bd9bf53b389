"""Finding and showing fraud cases: labels, the brand's list, one case in detail."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign, Stage
from cocreate.campaigns.timeline import stage_name
from cocreate.fraud.loader import epoch_seconds
from cocreate.fraud.log import FindingKind
from cocreate.fraud.models import CaseStatus, FraudCase, FraudCaseVote
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.voting.models import IdeaTally, Round, Vote

TIMELINE_BINS = 48
MAX_LISTED = 200  # cases on one page of the list
MAX_ACCOUNTS_SHOWN = 300

VOTES = Vote.__table__  # type: ignore[attr-defined]
CASE_VOTES = FraudCaseVote.__table__  # type: ignore[attr-defined]
TALLIES = IdeaTally.__table__  # type: ignore[attr-defined]


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def kind_label(kind: str) -> str:
    labels = {
        FindingKind.RING.value: _("Lockstep ring"),
        FindingKind.SOCKPUPPETS.value: _("Sockpuppet cluster"),
        FindingKind.BURST.value: _("Vote burst"),
    }
    return labels.get(kind, kind)


def status_label(status: str) -> str:
    labels = {
        CaseStatus.OPEN.value: _("Open"),
        CaseStatus.VOIDED.value: _("Votes void"),
        CaseStatus.CLEARED.value: _("Cleared"),
    }
    return labels.get(status, status)


def signal_label(signal: str) -> str:
    labels = {
        "ip": _("Network address (hash)"),
        "ip_prefix": _("Network prefix (hash)"),
        "device": _("Device"),
        "user_agent": _("Browser (user agent)"),
        "mailbox": _("Mailbox"),
        "mailbox_pattern": _("Mailbox pattern (numbers dropped)"),
        "signup": _("Sign-up time"),
        "email_domain": _("Email domain"),
    }
    return labels.get(signal, signal)


@dataclass(frozen=True)
class RoundChoice:
    round_id: int
    label: str


@dataclass(frozen=True)
class CaseRow:
    case: FraudCase
    campaign: Campaign
    round_label: str


def brand_rounds(*, session: Session, brand: Brand) -> list[RoundChoice]:
    """The brand's voting rounds, for the filter: "campaign — stage"."""
    rows = session.exec(
        select(Round, Stage, Campaign)
        .join(Stage, col(Stage.id) == Round.stage_id)
        .join(Campaign, col(Campaign.id) == Round.campaign_id)
        .where(Campaign.brand_id == brand.id)
        .order_by(col(Campaign.title), col(Stage.position))
    ).all()
    return [RoundChoice(_id(r.id), f"{c.title} — {stage_name(s)}") for r, s, c in rows]


def list_cases(
    *,
    session: Session,
    brand: Brand,
    round_id: int | None = None,
    status: str | None = None,
    kind: str | None = None,
) -> list[CaseRow]:
    statement = (
        select(FraudCase, Campaign, Stage)
        .join(Campaign, col(Campaign.id) == FraudCase.campaign_id)
        .join(Round, col(Round.id) == FraudCase.round_id)
        .join(Stage, col(Stage.id) == Round.stage_id)
        .where(Campaign.brand_id == brand.id)
    )
    if round_id is not None:
        statement = statement.where(FraudCase.round_id == round_id)
    if status is not None:
        statement = statement.where(FraudCase.status == status)
    if kind is not None:
        statement = statement.where(FraudCase.kind == kind)
    statement = statement.order_by(
        col(FraudCase.score).desc(), col(FraudCase.opened_at).desc(), col(FraudCase.id)
    ).limit(MAX_LISTED)
    return [
        CaseRow(case, campaign, f"{campaign.title} — {stage_name(stage)}")
        for case, campaign, stage in session.exec(statement).all()
    ]


def get_case(*, session: Session, brand: Brand, case_id: int) -> CaseRow | None:
    """The case when it belongs to one of the brand's campaigns, else None."""
    row = session.exec(
        select(FraudCase, Campaign, Stage)
        .join(Campaign, col(Campaign.id) == FraudCase.campaign_id)
        .join(Round, col(Round.id) == FraudCase.round_id)
        .join(Stage, col(Stage.id) == Round.stage_id)
        .where(FraudCase.id == case_id, Campaign.brand_id == brand.id)
    ).first()
    if row is None:
        return None
    case, campaign, stage = row
    return CaseRow(case, campaign, f"{campaign.title} — {stage_name(stage)}")


@dataclass(frozen=True)
class AccountRow:
    user_id: int
    display_name: str
    age_days: int
    verified: bool
    suspended: bool
    votes: int  # votes of this account in the case


@dataclass(frozen=True)
class IdeaRow:
    idea_id: int
    title: str
    case_votes: int
    counted: int  # the idea's counted votes in the round now


@dataclass(frozen=True)
class Bar:
    start: datetime
    targets: int  # votes for the case's ideas
    others: int  # the group's other votes (camouflage)


@dataclass(frozen=True)
class CaseDetail:
    accounts: list[AccountRow]
    more_accounts: int
    ideas: list[IdeaRow]
    statuses: dict[str, int]  # counted / held / void / withdrawn votes of the case
    timeline: list[Bar]
    bin_seconds: float
    timeline_max: int


def case_detail(*, session: Session, case: FraudCase, now: datetime) -> CaseDetail:
    case_id = _id(case.id)
    in_case = VOTES.c.id.in_(
        core_select(CASE_VOTES.c.vote_id).where(CASE_VOTES.c.case_id == case_id)
    )
    rows = session.execute(
        core_select(
            VOTES.c.voter_id,
            VOTES.c.idea_id,
            VOTES.c.status,
            VOTES.c.withdrawn_at.is_not(None),
            epoch_seconds(session, VOTES.c.cast_at),
        ).where(in_case)
    ).all()
    per_voter: Counter[int] = Counter()
    per_idea: Counter[int] = Counter()
    statuses: Counter[str] = Counter()
    times: list[tuple[float, bool]] = []
    targets = set(case.idea_ids)
    for voter_id, idea_id, status, withdrawn, at in rows:
        per_voter[voter_id] += 1
        per_idea[idea_id] += 1
        statuses["withdrawn" if withdrawn else status] += 1
        times.append((float(at), idea_id in targets))
    shown = sorted(case.voter_ids, key=lambda v: (-per_voter[v], v))[:MAX_ACCOUNTS_SHOWN]
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(shown))).all()}
    accounts = [
        AccountRow(
            user_id=v,
            display_name=users[v].display_name if v in users else "?",
            age_days=max(0, (now - users[v].created_at).days) if v in users else 0,
            verified=users[v].is_verified if v in users else False,
            suspended=users[v].disabled if v in users else False,
            votes=per_voter[v],
        )
        for v in shown
    ]
    idea_ids = sorted(targets, key=lambda i: (-per_idea[i], i))
    ideas_table = Idea.__table__  # type: ignore[attr-defined]
    titles: dict[int, str] = {
        int(i): str(t)
        for i, t in session.execute(
            core_select(ideas_table.c.id, ideas_table.c.title).where(ideas_table.c.id.in_(idea_ids))
        )
    }
    counted = dict(
        session.execute(
            core_select(TALLIES.c.idea_id, TALLIES.c.votes).where(
                TALLIES.c.round_id == case.round_id, TALLIES.c.idea_id.in_(idea_ids)
            )
        ).all()
    )
    ideas = [
        IdeaRow(i, str(titles.get(i, "?")), per_idea[i], int(counted.get(i, 0))) for i in idea_ids
    ]
    timeline, width = _timeline(times)
    return CaseDetail(
        accounts=accounts,
        more_accounts=max(0, len(case.voter_ids) - len(shown)),
        ideas=ideas,
        statuses=dict(statuses),
        timeline=timeline,
        bin_seconds=width,
        timeline_max=max((b.targets + b.others for b in timeline), default=0),
    )


def _timeline(times: Sequence[tuple[float, bool]]) -> tuple[list[Bar], float]:
    """The case's votes in `TIMELINE_BINS` equal slices of time, from the first to the last."""
    if not times:
        return [], 0.0
    start = min(t for t, _target in times)
    end = max(t for t, _target in times)
    width = max((end - start) / TIMELINE_BINS, 1.0)
    bins = min(TIMELINE_BINS, int((end - start) // width) + 1)
    targets = [0] * bins
    others = [0] * bins
    for at, target in times:
        index = min(bins - 1, int((at - start) // width))
        if target:
            targets[index] += 1
        else:
            others[index] += 1
    return [
        Bar(datetime.fromtimestamp(start + i * width, UTC), targets[i], others[i])
        for i in range(bins)
    ], width
