"""Which voting round of a campaign is open now: one SQLAlchemy Core query, read by every vote.

The vote reads the campaign, its open voting stage and that stage's round with every click,
so they come back as small read-only values (`CampaignRef`, `StageRef`, `RoundRules`), not
ORM objects: loading three ORM objects cost more than the vote's own statements. Functions
that only read a round's settings take either (`RoundLike`: a `Round` or its `RoundRules`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import and_, bindparam, exists, func, literal_column
from sqlalchemy import select as core_select
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.group_commit import batch_memo
from cocreate.security.access import Account, account_columns
from cocreate.types import UTCDateTime
from cocreate.voting.entrants import first_round_condition
from cocreate.voting.models import Round, Vote
from cocreate.voting.rounds import round_for_stage

if TYPE_CHECKING:
    from cocreate.voting.methods import VotingMethod

    Voter: TypeAlias = User | Account  # who votes: the ORM's account, or its Core row

CAMPAIGNS = Campaign.__table__  # type: ignore[attr-defined]
STAGES = Stage.__table__  # type: ignore[attr-defined]
ROUNDS = Round.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]
VOTES = Vote.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CampaignRef:
    """What the ballot and the vote need of a campaign (not its long texts)."""

    id: int
    brand_id: int
    slug: str
    title: str
    status: str
    timezone: str
    primary_color: str


@dataclass(frozen=True)
class StageRef:
    id: int
    campaign_id: int
    position: int
    kind: str
    title: str
    opens_at: datetime
    closes_at: datetime
    config: dict[str, Any]

    def as_stage(self) -> Stage:
        """The stage as the campaigns feature's functions take it (its name, its times)."""
        return Stage(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class RoundRules:
    """A round's settings, read-only (one `rounds` row)."""

    id: int
    stage_id: int
    campaign_id: int
    method: str
    max_votes: int
    points_budget: int
    frequency: str
    require_verified_email: bool
    min_account_age_days: int
    countries: list[str]
    advancement: str
    advancement_value: int
    tie_break: str
    visibility: str
    fraud_policy: dict[str, Any]
    certified_at: datetime | None
    digest: str | None

    @classmethod
    def of(cls, round_: Round) -> RoundRules:
        return cls(**{f.name: getattr(round_, f.name) for f in fields(cls)})

    @property
    def voting_method(self) -> VotingMethod:
        """The round's voting method (templates ask it what to show)."""
        from cocreate.voting.methods import method_named

        return method_named(self.method)


RoundLike = Round | RoundRules
CampaignLike = Campaign | CampaignRef
StageLike = Stage | StageRef


@dataclass(frozen=True)
class OpenRound:
    campaign: CampaignRef
    stage: StageRef
    round: RoundRules
    first_round: bool  # the campaign's first voting stage: every approved idea takes part
    # Read with the round when `find_open_round` was given the voter (the vote path): other
    # accounts of the voter's canonical mailbox with a live vote in the round. None: not read.
    mailbox_siblings: int | None = None


@dataclass(frozen=True)
class CampaignRound:
    """A public campaign and its open voting round, if one is open now."""

    campaign: CampaignRef
    open: OpenRound | None


def _mailbox_siblings_column(*, bound_round: bool = False) -> Any:
    """The fraud screen's mailbox count (`fraud.screen.MAILBOX_SIBLINGS`) as a column of the
    open-round query, correlated on the round (with `bound_round`: of the round bound as
    `round_id`): other accounts of the voter's canonical mailbox (bound: `voter`, the account
    id) with a live vote in the open round."""
    sibling = USERS.alias("sibling")
    live = VOTES.alias("live")
    round_id = bindparam("round_id") if bound_round else ROUNDS.c.id
    voted = (
        exists()
        .where(
            live.c.round_id == round_id,
            live.c.voter_id == sibling.c.id,
            live.c.withdrawn_at.is_(None),
        )
        .correlate(*([] if bound_round else [ROUNDS]), sibling)
    )
    voter = USERS.alias("voter")
    mailbox = (
        core_select(voter.c.canonical_mailbox)
        .where(voter.c.id == bindparam("voter"))
        .scalar_subquery()
    )
    # `rounds` is the outer query's (the open round): correlated explicitly, as automatic
    # correlation stops at the nearest enclosing select and would add `rounds` to the FROM.
    return (
        core_select(func.count())
        .select_from(sibling)
        .where(sibling.c.canonical_mailbox == mailbox, sibling.c.id != bindparam("voter"), voted)
        .correlate(*([] if bound_round else [ROUNDS]))
        .scalar_subquery()
    )


_CAMPAIGN = [f.name for f in fields(CampaignRef)]
_STAGE = [f.name for f in fields(StageRef)]
_ROUND = [f.name for f in fields(RoundRules)]


def _campaign_round(campaigns: Any) -> Any:
    """The campaign (`campaigns`: the joined campaigns, or a join that ends with it) with its
    open voting stage and that stage's round, outer-joined."""
    now = bindparam("now", type_=UTCDateTime())
    return campaigns.outerjoin(
        STAGES,
        and_(
            STAGES.c.campaign_id == CAMPAIGNS.c.id,
            STAGES.c.kind == StageKind.VOTING.value,
            STAGES.c.opens_at <= now,
            STAGES.c.closes_at > now,
        ),
    ).outerjoin(ROUNDS, ROUNDS.c.stage_id == STAGES.c.id)


def _columns(with_mailbox: bool) -> list[Any]:
    return [
        *(CAMPAIGNS.c[name] for name in _CAMPAIGN),
        *(STAGES.c[name] for name in _STAGE),
        *(ROUNDS.c[name] for name in _ROUND),
        first_round_condition(),
        *([_mailbox_siblings_column()] if with_mailbox else []),
    ]


_PUBLISHED = and_(
    CAMPAIGNS.c.slug == bindparam("slug"),
    CAMPAIGNS.c.status == CampaignStatus.PUBLISHED.value,
)


@cache
def _query(with_mailbox: bool) -> Any:
    """Built once: the published campaign by address, its open voting stage and that stage's
    round, and whether an earlier voting stage exists; with `with_mailbox`, the voter's
    mailbox siblings. Bound: `slug`, `now`, and `voter` with `with_mailbox`."""
    return (
        core_select(*_columns(with_mailbox))
        .select_from(_campaign_round(CAMPAIGNS))
        .where(_PUBLISHED)
        .limit(1)
    )


@cache
def _query_with_account(with_mailbox: bool) -> Any:
    """`_query` with the account `voter` names (the vote's signed-in check), in one row
    whatever exists: one statement, one round trip, where there were two."""
    one = core_select(literal_column("1").label("one")).subquery("one")
    account = one.outerjoin(USERS, USERS.c.id == bindparam("voter"))
    return core_select(*account_columns(), *_columns(with_mailbox)).select_from(
        _campaign_round(account.outerjoin(CAMPAIGNS, _PUBLISHED))
    )


def find_open_round(
    *, session: Session, slug: str, now: datetime, voter: Voter | None = None
) -> CampaignRound | None:
    """The published campaign at /c/{slug} and its open voting round, in one query.

    None when no published campaign has this address. With `voter`, the same query also
    counts the voter's mailbox siblings in the open round (`OpenRound.mailbox_siblings`). An
    open stage whose round nobody has set up yet gets its round now, with the defaults."""
    voter_id = None if voter is None else voter.id
    params: dict[str, Any] = {"slug": slug, "now": now}
    if voter_id is not None:
        params["voter"] = voter_id
    row = session.connection().execute(_query(voter_id is not None), params).first()
    return None if row is None else _found(session, tuple(row), voter_id is not None)


@dataclass(frozen=True)
class VoteContext:
    """What a vote reads first, in one query: who votes, and the campaign's open round."""

    account: Account | None  # the account the session names, not yet checked (`access.admit`)
    found: CampaignRound | None  # None: no published campaign at this address


@cache
def _account_query(with_mailbox: bool) -> Any:
    """The account `voter` names, with its mailbox siblings in the round bound as `round_id`
    when `with_mailbox`: what a vote reads when its batch read the open round already."""
    one = core_select(literal_column("1").label("one")).subquery("one")
    account = one.outerjoin(USERS, USERS.c.id == bindparam("voter"))
    siblings = [_mailbox_siblings_column(bound_round=True)] if with_mailbox else []
    return core_select(*account_columns(), *siblings).select_from(account)


def read_for_vote(
    *, session: Session, slug: str, now: datetime, voter_id: int | None, with_mailbox: bool
) -> VoteContext:
    """The account `voter_id` names and `find_open_round`'s answer (with the voter's mailbox
    siblings when `with_mailbox`), in one statement.

    In a group commit's batch (`group_commit.batch_memo`) the campaign and its open round
    are read once, by the batch's first vote; the next votes of the batch, while their `now`
    is still within the open stage, read only the account (and its mailbox siblings, which
    the batch's own votes may change)."""
    memo = batch_memo()
    key = (CampaignRound, slug)
    known: CampaignRound | None = None if memo is None else memo.get(key)
    if known is not None and known.open is not None:
        stage = known.open.stage
        if stage.opens_at <= now < stage.closes_at:
            return _with_account(session, known, voter_id, with_mailbox)
    params = {"slug": slug, "now": now, "voter": voter_id}
    row = tuple(session.connection().execute(_query_with_account(with_mailbox), params).one())
    width = len(account_columns())
    account = Account(*row[:width]) if row[0] is not None else None
    rest = row[width:]
    if rest[0] is None:
        return VoteContext(account, None)
    found = _found(session, rest, with_mailbox)
    if memo is not None and found.open is not None:
        memo[key] = found
    return VoteContext(account, found)


def _with_account(
    session: Session, found: CampaignRound, voter_id: int | None, with_mailbox: bool
) -> VoteContext:
    """`found` (read by an earlier vote of the batch) with the account `voter_id` names."""
    assert found.open is not None
    if voter_id is None:  # nobody signed in: refused by the access check, nothing to read
        return VoteContext(None, found)
    params = {"voter": voter_id, "round_id": found.open.round.id}
    row = tuple(session.connection().execute(_account_query(with_mailbox), params).one())
    width = len(account_columns())
    account = Account(*row[:width]) if row[0] is not None else None
    siblings = int(row[width]) if with_mailbox else None
    opened = replace(found.open, mailbox_siblings=siblings)
    return VoteContext(account, CampaignRound(found.campaign, opened))


def _found(session: Session, row: tuple[Any, ...], with_mailbox: bool) -> CampaignRound:
    """The campaign, stage and round of a row of `_columns`."""
    at = len(_CAMPAIGN)
    campaign = CampaignRef(*row[:at])
    stage_values = row[at : at + len(_STAGE)]
    at += len(_STAGE)
    round_values = row[at : at + len(_ROUND)]
    at += len(_ROUND)
    first_round = bool(row[at])
    siblings = int(row[at + 1]) if with_mailbox else None
    if stage_values[0] is None:
        return CampaignRound(campaign, None)
    stage = StageRef(*stage_values)
    if round_values[0] is None:  # nobody opened its settings yet: made with the defaults
        made = round_for_stage(session=session, stage=stage)
        rules = RoundRules.of(made)
        siblings = 0 if with_mailbox else None  # no vote can name a round just made
    else:
        rules = RoundRules(*round_values)
    return CampaignRound(campaign, OpenRound(campaign, stage, rules, first_round, siblings))
