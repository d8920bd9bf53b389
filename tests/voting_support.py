"""A published campaign with an open voting round and approved ideas, made in the database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.voting.models import Round
from tests.brand_factories import add_member, make_brand

# Noon in Paris on the round's third day: a daily ballot changes at 22:00 UTC (summer time).
T0 = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass
class VotingWorld:
    brand: Brand
    owner: User
    campaign: Campaign
    submission: Stage
    stage: Stage
    round: Round
    ideas: list[Idea]

    @property
    def ballot_url(self) -> str:
        return f"/c/{self.campaign.slug}/vote"

    @property
    def round_url(self) -> str:
        return (
            f"/brands/{self.brand.slug}/campaigns/{self.campaign.slug}/stages/{self.stage.id}/round"
        )

    def vote_url(self, idea: Idea) -> str:
        return f"/c/{self.campaign.slug}/vote/{idea.id}"

    def unvote_url(self, idea: Idea) -> str:
        return f"/c/{self.campaign.slug}/unvote/{idea.id}"


def make_voting_world(
    session: Session,
    owner: User,
    *,
    now: datetime = T0,
    ideas: int = 4,
    slug: str = "flavours",
    opens_in: timedelta = -2 * DAY,
    **round_settings: Any,
) -> VotingWorld:
    """Acme's published campaign: ideas were submitted, the vote opened two days ago (or
    `opens_in` from now) and runs ten days; `round_settings` go on its Round."""
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER)])
    campaign = Campaign(
        brand_id=brand.id,  # type: ignore[arg-type]
        slug=slug,
        title="Flavours",
        status=CampaignStatus.PUBLISHED,
        timezone="Europe/Paris",
    )
    session.add(campaign)
    session.flush()
    opens = now + opens_in
    submission = Stage(
        campaign_id=campaign.id,  # type: ignore[arg-type]
        position=0,
        kind=StageKind.SUBMISSION,
        opens_at=opens - 20 * DAY,
        closes_at=opens - DAY,
    )
    stage = Stage(
        campaign_id=campaign.id,  # type: ignore[arg-type]
        position=1,
        kind=StageKind.VOTING,
        title="Public vote",
        opens_at=opens,
        closes_at=opens + 10 * DAY,
    )
    session.add_all([submission, stage])
    session.flush()
    round_ = Round(stage_id=stage.id, campaign_id=campaign.id, **round_settings)  # type: ignore[arg-type]
    session.add(round_)
    made = [
        Idea(
            campaign_id=campaign.id,  # type: ignore[arg-type]
            author_id=owner.id,  # type: ignore[arg-type]
            title=f"Idea {name}",
            description=f"All about {name}.",
            status=IdeaStatus.APPROVED,
            submitted_at=opens - 10 * DAY + n * timedelta(hours=1),
        )
        for n, name in enumerate(["Apple", "Basil", "Cherry", "Dill", "Elder", "Fig"][:ideas])
    ]
    session.add_all(made)
    session.commit()
    return VotingWorld(brand, owner, campaign, submission, stage, round_, made)


def add_marketer(session: Session, world: VotingWorld, user: User) -> None:
    add_member(session, world.brand, user, Role.MARKETER)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def token(client: TestClient, page: str) -> str:
    found = _CSRF.search(client.get(page).text)
    assert found, f"no CSRF token on {page}"
    return found.group(1)


def htmx_post(client: TestClient, path: str, csrf: str, data: dict[str, str] | None = None) -> Any:
    """A POST as htmx sends it: the CSRF token in a header, HX-Request set."""
    return client.post(
        path,
        data=data or {},
        headers={"HX-Request": "true", "X-CSRFToken": csrf, "HX-Current-URL": "http://testserver/"},
    )
