"""The settings of each voting round, as the campaign console changes them.

A voting stage gets its Round row the first time anyone needs it (`round_for_stage`), with
defaults that make a usable round. Once the stage has opened, its rules stay as voters found
them: only what voters see of the counts (the visibility) can still change.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from cocreate.audit.service import record
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.db import begin_write
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.voting.forms import FRAUD_FIELDS, RULE_FIELDS, RoundInput, round_values
from cocreate.voting.methods import method_named
from cocreate.voting.models import Round, Visibility

if TYPE_CHECKING:
    from cocreate.voting.open_round import StageRef


def round_for_stage(*, session: Session, stage: Stage | StageRef) -> Round:
    """The Round of a voting stage, created with the default settings when missing.

    Race-safe: two first visitors insert with ON CONFLICT DO NOTHING and both read the one row.
    """
    found = session.exec(select(Round).where(Round.stage_id == stage.id)).first()
    if found is not None:
        return found
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    begin_write(session)
    defaults = Round(stage_id=stage.id, campaign_id=stage.campaign_id)  # type: ignore[arg-type]
    values = {
        column.name: getattr(defaults, column.name)
        for column in Round.__table__.columns  # type: ignore[attr-defined]
        if column.name != "id"
    }
    session.execute(
        insert(Round).values(**values).on_conflict_do_nothing(index_elements=["stage_id"])
    )
    session.commit()
    return session.exec(select(Round).where(Round.stage_id == stage.id)).one()


def has_opened(stage: Stage, now: datetime) -> bool:
    return stage.opens_at <= now


def save_round(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    round_: Round,
    data: RoundInput,
    actor_id: int | None,
    now: datetime,
) -> list[str]:
    """Save every setting; once the stage has opened, only the visibility. Returns the names
    of the settings that changed (empty: nothing to save)."""
    before = round_values(round_).as_dict()
    after = data.as_dict()
    changed = sorted(name for name in after if after[name] != before[name])
    rules_changed = [name for name in changed if name in RULE_FIELDS]
    if rules_changed and has_opened(stage, now):
        raise ValidationFailed(
            {
                "": _(
                    "This round has opened: its rules stay as voters found them. Only what "
                    "voters see of the counts (the visibility) and the fraud checks can still "
                    "change."
                )
            }
        )
    problems = method_named(data.method).settings_problems(data)
    if problems:
        raise ValidationFailed(problems)
    if round_.certified_at is not None and changed:
        raise ValidationFailed({"": _("The results of this round are certified: nothing changes.")})
    if not changed:
        return []
    begin_write(session)
    for name in changed:
        if name not in FRAUD_FIELDS:
            setattr(round_, name, after[name])
    if any(name in FRAUD_FIELDS for name in changed):
        round_.fraud_policy = data.policy().as_json()
    session.add(round_)
    event = record(
        session=session,
        actor_id=actor_id,
        action="round.changed",
        subject_type="campaign",
        subject_id=campaign.id,
        stage_id=stage.id,
        round_id=round_.id,
        fields=changed,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
    )
    event.at = now
    session.commit()
    return changed


def set_visibility(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    round_: Round,
    visibility: str,
    actor_id: int | None,
    now: datetime,
    policy: dict[str, object] | None = None,
) -> list[str]:
    """Change only what voters see of the counts and the fraud policy (the `fraud_*` values
    of RoundInput); allowed while the round is open."""
    data = round_values(round_)
    return save_round(
        session=session,
        campaign=campaign,
        stage=stage,
        round_=round_,
        data=RoundInput(**{**data.as_dict(), "visibility": visibility, **(policy or {})}),  # type: ignore[arg-type]
        actor_id=actor_id,
        now=now,
    )


class GalleryVotes(enum.StrEnum):
    """What the public idea gallery may show of `Idea.vote_count` (counted votes of every
    round): the counts, only the "most voted" order, or neither."""

    COUNTS = "counts"
    ORDER = "order"
    NOTHING = "nothing"


def gallery_votes(*, session: Session, campaign_id: int, now: datetime) -> GalleryVotes:
    """The strictest visibility of the campaign's voting rounds that have opened and are not
    certified yet decides (a certified round's results are public; one not opened has no
    votes): hidden counts show neither, ranks only the order, live counts everything."""
    rows = session.exec(
        select(Round.visibility)
        .select_from(Stage)
        .outerjoin(Round, col(Round.stage_id) == Stage.id)
        .where(
            Stage.campaign_id == campaign_id,
            Stage.kind == StageKind.VOTING,
            col(Stage.opens_at) <= now,
            col(Round.certified_at).is_(None),
        )
    ).all()
    # A stage whose settings nobody opened yet has no Round row: its defaults apply.
    default = Round.model_fields["visibility"].default
    shown = {visibility or default for visibility in rows}
    if Visibility.HIDDEN in shown:
        return GalleryVotes.NOTHING
    if Visibility.RANKS in shown:
        return GalleryVotes.ORDER
    return GalleryVotes.COUNTS
