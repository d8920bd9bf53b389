"""A round with an honest crowd and a small ring, written straight to the vote log with
signals, and findings built by hand (the case store must not depend on what the detectors
find)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.fraud.log import Finding, FindingKind
from cocreate.voting.models import Vote, VoteStatus
from tests.results_support import DAY, T0, Contest, make_contest, rebuild_tallies

RING_AT = T0 + 2 * DAY


@dataclass
class Attacked:
    contest: Contest
    honest: list[User]
    ring: list[User]

    def ring_votes(self, session: Session) -> list[Vote]:
        ids = [u.id for u in self.ring]
        return list(
            session.execute(
                select(Vote).where(Vote.round_id == self.contest.round.id, Vote.voter_id.in_(ids))  # type: ignore[attr-defined]
            ).scalars()
        )

    def finding(self, session: Session, score: float = 0.9) -> Finding:
        votes = self.ring_votes(session)
        return Finding(
            kind=FindingKind.RING,
            score=score,
            vote_ids=frozenset(v.id for v in votes if v.id is not None),
            voter_ids=frozenset(u.id for u in self.ring if u.id is not None),
            idea_ids=frozenset({self.contest.ideas[4].id or 0}),
            evidence={
                "window_seconds": 600,
                "ip_prefixes": [0],
                "note": "ring",
                "ip_hash": "ab" * 32,
            },
        )


def add_vote(
    session: Session,
    contest: Contest,
    voter: User,
    idea_index: int,
    at: datetime,
    *,
    status: VoteStatus = VoteStatus.COUNTED,
    ip_prefix: str | None = None,
    device: str | None = None,
    user_agent: str | None = None,
) -> None:
    session.execute(
        insert(Vote),
        [
            {
                "round_id": contest.round.id,
                "voter_id": voter.id,
                "idea_id": contest.ideas[idea_index].id,
                "period": 0,
                "weight": 1,
                "status": status.value,
                "cast_at": at,
                "ip_hash": f"{voter.id:064x}" if ip_prefix else None,
                "ip_prefix_hash": ip_prefix,
                "device_id": device,
                "user_agent": user_agent,
                "risk_score": 0.0,
                "risk_signals": {},
            }
        ],
    )


def make_attacked(
    session: Session, *, slug: str = "flavour", brand_slug: str = "crispy"
) -> Attacked:
    """Six honest voters spread over days; a ring of four voting for idea E within minutes
    from one network prefix, one of its votes held by the vote-time checks."""
    contest = make_contest(session, slug=slug, brand_slug=brand_slug, ideas=5, voters=10)
    honest, ring = contest.voters[:6], contest.voters[6:]
    for n, voter in enumerate(honest):
        add_vote(
            session,
            contest,
            voter,
            n % 3,
            T0 + n * DAY / 3,
            ip_prefix=f"{n:064x}",
            device=f"dev-{n}",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
        )
        add_vote(session, contest, voter, 4 if n == 0 else 3, T0 + n * DAY / 3 + timedelta(hours=1))
    for n, voter in enumerate(ring):
        add_vote(
            session,
            contest,
            voter,
            4,
            RING_AT + n * timedelta(minutes=2),
            status=VoteStatus.HELD if n == 3 else VoteStatus.COUNTED,
            ip_prefix="f" * 64,
            device="dev-ring",
            user_agent="python-requests/2.32",
        )
        add_vote(
            session,
            contest,
            voter,
            0,
            RING_AT + n * timedelta(minutes=2) + timedelta(seconds=30),
            ip_prefix="f" * 64,
            device="dev-ring",
            user_agent="python-requests/2.32",
        )
    session.commit()
    rebuild_tallies(session, contest.round)
    return Attacked(contest, honest, ring)
