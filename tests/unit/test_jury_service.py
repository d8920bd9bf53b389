"""The jury stage against a real database: criteria, audited scores, weighted averages, picks."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cocreate.audit.models import AuditEvent
from cocreate.campaigns.models import StageKind
from cocreate.clock import FrozenClock
from cocreate.forms import ValidationFailed
from cocreate.jury import finalise, panel, scoring, settings
from cocreate.jury.models import JuryScore
from cocreate.results.advancement import winners
from cocreate.results.certify import certify_round
from cocreate.voting.models import Advancement, RoundEntrant
from tests.results_support import DAY, T0, Contest, add_juror, make_contest, write_votes

JURY_OPEN = T0 + 12 * DAY  # round 1: T0..T0+10d, jury: T0+10d..T0+20d, round 2 after


@pytest.fixture
def contest(session: Session, clock: FrozenClock) -> Contest:
    made = make_contest(
        session,
        ideas=3,
        voters=2,
        advancement=Advancement.MIN_VOTES,
        advancement_value=1,
        later=(StageKind.JURY, StageKind.VOTING),
    )
    v, (a, b, _c) = made.voters, made.ideas
    write_votes(session, made.round, [(v[0], a, 1), (v[1], b, 1)])
    certify_round(session=session, round_=made.round, now=T0 + 11 * DAY)
    clock.at = JURY_OPEN
    return made


def criteria(session: Session, contest: Contest) -> tuple[int, int]:
    taste = settings.add_criterion(
        session=session,
        stage=contest.jury_stage,
        name="Taste",
        description="",
        weight=3,
        actor_id=None,
    )
    originality = settings.add_criterion(
        session=session,
        stage=contest.jury_stage,
        name="Originality",
        description="",
        weight=1,
        actor_id=None,
    )
    return taste.id, originality.id  # type: ignore[return-value]


def score(
    session: Session, contest: Contest, juror: object, idea: object, marks: dict[int, int]
) -> int:  # noqa: E501
    return scoring.score_idea(
        session=session,
        campaign=contest.campaign,
        stage=contest.jury_stage,
        juror=juror,  # type: ignore[arg-type]
        idea_id=idea.id,  # type: ignore[attr-defined]
        scores=marks,
        now=JURY_OPEN,
    )


def test_weighted_average_scores_pick_the_ideas_that_go_on(
    session: Session, contest: Contest
) -> None:
    taste, originality = criteria(session, contest)
    one = add_juror(session, contest.brand, "one@example.com")
    two = add_juror(session, contest.brand, "two@example.com")
    a, b, c = contest.ideas
    candidates = panel.candidates_of(session=session, stage=contest.jury_stage)
    assert candidates.ready and candidates.ideas == [a.id, b.id]  # C had no vote
    score(session, contest, one, a, {taste: 8, originality: 4})
    score(session, contest, one, b, {taste: 6, originality: 10})
    score(session, contest, two, a, {taste: 6, originality: 6})
    progress = panel.progress(
        session=session,
        stage=contest.jury_stage,
        jurors=[one, two],
        candidates=2,
        criteria=2,
    )
    assert [(p.scored, p.needed, p.percent) for p in progress] == [(4, 4, 100), (2, 4, 50)]
    assert finalise.finalise_problems(
        session=session, campaign=contest.campaign, stage=contest.jury_stage, now=JURY_OPEN
    ) == ["The stage is still open and not every juror has scored every idea."]
    score(session, contest, two, b, {taste: 6, originality: 8})
    # A: taste mean 7, originality 5 -> (3*7 + 1*5) / 4 = 6.5
    # B: taste mean 6, originality 9 -> (3*6 + 1*9) / 4 = 6.75
    settings.set_picks(session=session, stage=contest.jury_stage, picks=1, actor_id=None)
    standings = finalise.finalise(
        session=session,
        campaign=contest.campaign,
        stage=contest.jury_stage,
        actor_id=None,
        now=JURY_OPEN,
    )
    assert [(s.idea_id, s.average) for s in standings] == [(b.id, 6.75), (a.id, 6.5)]
    entrants = session.exec(
        select(RoundEntrant.idea_id).where(RoundEntrant.round_id == contest.rounds[1].id)
    ).all()
    assert list(entrants) == [b.id]
    with pytest.raises(ValidationFailed):  # closed for good
        score(session, contest, one, a, {taste: 10})
    assert winners(session=session, campaign_id=contest.campaign.id).ready is False  # type: ignore[arg-type]


def test_every_score_given_or_changed_is_audited(session: Session, contest: Contest) -> None:
    taste, originality = criteria(session, contest)
    one = add_juror(session, contest.brand, "one@example.com")
    a = contest.ideas[0]
    assert score(session, contest, one, a, {taste: 5, originality: 5}) == 2
    assert score(session, contest, one, a, {taste: 5, originality: 9}) == 1  # one changed
    events = session.exec(
        select(AuditEvent).where(AuditEvent.action == "jury.scored").order_by(AuditEvent.id)  # type: ignore[arg-type]
    ).all()
    assert [
        (e.actor_id, e.data["criterion_id"], e.data["before"], e.data["after"]) for e in events
    ] == [
        (one.id, taste, None, 5),
        (one.id, originality, None, 5),
        (one.id, originality, 5, 9),
    ]


def test_only_the_brands_jury_scores_its_candidates_while_the_stage_is_open(
    session: Session, contest: Contest, clock: FrozenClock
) -> None:
    taste, _ = criteria(session, contest)
    other = make_contest(session, slug="other", brand_slug="other-brand", ideas=1)
    outsider = add_juror(session, other.brand, "outsider@example.com")
    a, _b, c = contest.ideas
    with pytest.raises(ValidationFailed, match="jury"):
        score(session, contest, outsider, a, {taste: 5})
    one = add_juror(session, contest.brand, "one@example.com")
    with pytest.raises(ValidationFailed):  # C did not go on from round 1
        score(session, contest, one, c, {taste: 5})
    with pytest.raises(ValidationFailed):  # another campaign's idea
        score(session, contest, one, other.ideas[0], {taste: 5})
    with pytest.raises(ValidationFailed):
        score(session, contest, one, a, {taste: 11})
    with pytest.raises(ValidationFailed):
        scoring.score_idea(
            session=session,
            campaign=contest.campaign,
            stage=contest.jury_stage,
            juror=one,
            idea_id=a.id,  # type: ignore[arg-type]
            scores={taste: 5},
            now=T0 + 30 * DAY,  # after the stage
        )
    assert session.exec(select(JuryScore)).all() == []


def test_the_database_refuses_a_score_out_of_range(session: Session, contest: Contest) -> None:
    taste, _ = criteria(session, contest)
    one = add_juror(session, contest.brand, "one@example.com")
    session.add(
        JuryScore(
            stage_id=contest.jury_stage.id,  # type: ignore[arg-type]
            criterion_id=taste,
            idea_id=contest.ideas[0].id,  # type: ignore[arg-type]
            juror_id=one.id,  # type: ignore[arg-type]
            score=11,
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_a_criterion_already_scored_cannot_be_removed(session: Session, contest: Contest) -> None:
    taste, originality = criteria(session, contest)
    one = add_juror(session, contest.brand, "one@example.com")
    score(session, contest, one, contest.ideas[0], {taste: 5})
    with pytest.raises(ValidationFailed):
        settings.remove_criterion(
            session=session, stage=contest.jury_stage, criterion_id=taste, actor_id=None
        )
    settings.remove_criterion(
        session=session, stage=contest.jury_stage, criterion_id=originality, actor_id=None
    )
    names = [c.name for c in panel.criteria_of(session=session, stage_id=contest.jury_stage.id)]  # type: ignore[arg-type]
    assert names == ["Taste"]


def test_the_jury_picks_three_by_default_or_every_candidate_when_fewer(
    session: Session, contest: Contest
) -> None:
    # Two ideas went on from round 1: a jury that "picks 3" of 2 would be a surprise.
    assert len(panel.candidates_of(session=session, stage=contest.jury_stage).ideas) == 2
    assert panel.panel_of(session=session, stage=contest.jury_stage).picks == 2
    settings.set_picks(session=session, stage=contest.jury_stage, picks=1, actor_id=None)
    assert panel.panel_of(session=session, stage=contest.jury_stage).picks == 1  # as saved
    more = make_contest(
        session,
        slug="more",
        brand_slug="more",
        ideas=6,
        voters=1,
        advancement=Advancement.TOP_N,
        advancement_value=5,
        later=(StageKind.JURY,),
    )
    certify_round(session=session, round_=more.round, now=T0 + 11 * DAY)
    assert panel.panel_of(session=session, stage=more.jury_stage).picks == panel.DEFAULT_PICKS
