"""The jury's part in the results feature, registered in `cocreate.results.hooks` when this
package is imported: which ideas a jury stage lets through (results never imports the jury)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from cocreate.campaigns.models import Stage
from cocreate.jury.models import JuryOutcome, JuryPanel
from cocreate.results import hooks


def jury_picks(*, session: Session, stage: Stage) -> list[int] | None:
    """The ideas the jury picked, in its ranking's order; None until its scoring is closed."""
    panel = session.get(JuryPanel, stage.id)
    if panel is None or panel.finalised_at is None:
        return None
    picked = session.exec(
        select(JuryOutcome.idea_id)
        .where(JuryOutcome.stage_id == stage.id, col(JuryOutcome.picked).is_(True))
        .order_by(col(JuryOutcome.position))
    ).all()
    return list(picked)


def register() -> None:
    hooks.register_jury_picks(jury_picks)
