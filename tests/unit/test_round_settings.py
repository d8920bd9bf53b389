"""Round settings: reading the form (pure), and saving with the rule that an opened round
keeps its rules (on both databases)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select
from starlette.datastructures import FormData

from cocreate.accounts.models import User
from cocreate.audit.models import AuditEvent
from cocreate.clock import FrozenClock
from cocreate.forms import Form, ValidationFailed
from cocreate.voting.forms import RoundInput, read_round, round_values
from cocreate.voting.models import Round
from cocreate.voting.rounds import round_for_stage, save_round, set_visibility
from tests.voting_support import T0, make_voting_world

GOOD = {
    "method": "approval",
    "max_votes": "3",
    "points_budget": "",
    "frequency": "daily",
    "require_verified_email": "on",
    "min_account_age_days": "2",
    "countries": "fr, be;ch  FR",
    "advancement": "top_n",
    "advancement_value": "5",
    "tie_break": "earlier_submission",
    "visibility": "live",
}


def read(**changes: str) -> tuple[RoundInput, dict[str, str]]:
    form = Form(FormData({**GOOD, **changes}))
    data = read_round(form)
    return data, form.errors


def test_a_good_form() -> None:
    data, errors = read()
    assert errors == {}
    assert data == RoundInput(
        method="approval",
        max_votes=3,
        points_budget=0,
        frequency="daily",
        require_verified_email=True,
        min_account_age_days=2,
        countries=["BE", "CH", "FR"],
        advancement="top_n",
        advancement_value=5,
        tie_break="earlier_submission",
        visibility="live",
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"method": "borda"}, "method", "Choose one of the options."),
        ({"max_votes": "0"}, "max_votes", "Enter a whole number from 1 to 1000."),
        ({"max_votes": "²"}, "max_votes", "Enter a whole number from 1 to 1000."),
        (
            {"method": "ranked", "max_votes": "21", "frequency": "once", "visibility": "hidden"},
            "max_votes",
            "A ranked ballot can have at most 20 positions.",
        ),
        (
            {"method": "ranked", "visibility": "hidden"},
            "frequency",
            "A ranked ballot is cast once per round",
        ),
        (
            {"method": "ranked", "frequency": "once"},
            "visibility",
            "Ranked rounds keep counts hidden",
        ),
        (
            {"method": "points", "points_budget": ""},
            "points_budget",
            "Enter a whole number from 1 to 10000.",
        ),
        ({"countries": "FR, XX, Narnia"}, "countries", "Unknown country codes: XX, NARNIA."),
        (
            {"advancement": "top_percent", "advancement_value": "101"},
            "advancement_value",
            "from 1 to 100",
        ),
        ({"min_account_age_days": "-1"}, "min_account_age_days", "from 0 to 3650"),
        ({"visibility": ""}, "visibility", "Choose one of the options."),
    ],
)
def test_form_errors_say_what_to_fix(changes: dict[str, str], field: str, message: str) -> None:
    _data, errors = read(**changes)
    assert message in errors[field]


def test_single_choice_is_one_vote_and_points_keep_their_budget() -> None:
    assert read(method="single", max_votes="9")[0].max_votes == 1
    data, errors = read(method="points", points_budget="100")
    assert errors == {} and data.points_budget == 100
    assert read(advancement="jury", advancement_value="")[0].advancement_value == 0


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(sorted(GOOD)), st.text(max_size=30)))
def test_no_input_breaks_the_reader(changes: dict[str, str]) -> None:
    data, errors = read(**changes)
    assert isinstance(data, RoundInput)
    assert all(isinstance(message, str) and message for message in errors.values())


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("owner@example.com")


def test_a_round_is_made_with_defaults_when_missing(session: Session, owner: User) -> None:
    world = make_voting_world(session, owner)
    session.delete(world.round)
    session.commit()
    made = round_for_stage(session=session, stage=world.stage)
    assert made.method == "approval" and made.max_votes == 5 and made.require_verified_email
    assert round_for_stage(session=session, stage=world.stage).id == made.id
    assert len(session.exec(select(Round)).all()) == 1


def _save(session: Session, world: Any, now: Any, **changes: Any) -> list[str]:
    data = RoundInput(**{**round_values(world.round).as_dict(), **changes})
    return save_round(
        session=session,
        campaign=world.campaign,
        stage=world.stage,
        round_=world.round,
        data=data,
        actor_id=world.owner.id,
        now=now,
    )


def test_rules_change_until_the_round_opens_then_only_visibility(
    session: Session, owner: User, clock: FrozenClock
) -> None:
    world = make_voting_world(session, owner, opens_in=timedelta(hours=2))
    assert _save(session, world, T0, max_votes=7, frequency="daily") == ["frequency", "max_votes"]
    assert _save(session, world, T0, max_votes=7) == []  # nothing changed, nothing recorded
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "round.changed")).one()
    assert event.data["before"] == {"frequency": "once", "max_votes": 5}
    assert event.data["after"] == {"frequency": "daily", "max_votes": 7}

    opened = T0 + timedelta(hours=2)
    with pytest.raises(ValidationFailed) as refused:
        _save(session, world, opened, max_votes=9)
    assert "This round has opened: its rules stay as voters found them." in refused.value.errors[""]
    session.rollback()
    session.refresh(world.round)
    assert world.round.max_votes == 7
    changed = set_visibility(
        session=session,
        campaign=world.campaign,
        stage=world.stage,
        round_=world.round,
        visibility="hidden",
        actor_id=owner.id,
        now=opened,
    )
    assert changed == ["visibility"] and world.round.visibility == "hidden"


def test_a_ranked_round_keeps_counts_hidden_even_after_opening(
    session: Session, owner: User
) -> None:
    world = make_voting_world(session, owner, method="ranked", max_votes=3, visibility="hidden")
    with pytest.raises(ValidationFailed) as refused:
        set_visibility(
            session=session,
            campaign=world.campaign,
            stage=world.stage,
            round_=world.round,
            visibility="live",
            actor_id=owner.id,
            now=T0,
        )
    assert "Ranked rounds keep counts hidden" in refused.value.errors["visibility"]
