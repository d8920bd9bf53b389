"""A head-to-head round in the database: a voting round whose entrants have statistics rows.

The round's method is left at its default: the engine does not read it (the plug-in that
will make `head_to_head` a method of its own is wired separately)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.headtohead import store
from cocreate.ideas.models import Idea, IdeaStatus
from tests.voting_support import T0, make_voting_world


@dataclass
class Battle:
    round_id: int
    idea_ids: list[int]
    voters: list[int]
    add_ideas: Callable[[int], list[int]]


@pytest.fixture
def make_battle(session: Session, make_user: Callable[..., User]) -> Callable[..., Battle]:
    def make(*, ideas: int = 6, voters: int = 3, seed: int = 1) -> Battle:
        owner = make_user()
        world = make_voting_world(session, owner, ideas=0)
        assert world.round.id is not None and world.campaign.id is not None
        round_id, campaign_id = world.round.id, world.campaign.id
        rng = random.Random(seed)

        def add_ideas(count: int) -> list[int]:
            made = [
                Idea(
                    campaign_id=campaign_id,
                    author_id=owner.id,  # type: ignore[arg-type]
                    title=f"Idea {n}",
                    description="",
                    status=IdeaStatus.APPROVED,
                    submitted_at=T0,
                )
                for n in range(count)
            ]
            session.add_all(made)
            session.flush()
            ids = [idea.id for idea in made if idea.id is not None]
            store.enter_ideas(session=session, round_id=round_id, idea_ids=ids, rng=rng)
            session.commit()
            return ids

        idea_ids = add_ideas(ideas)
        voter_ids = [make_user().id for _ in range(voters)]
        return Battle(round_id, idea_ids, [v for v in voter_ids if v is not None], add_ideas)

    return make
