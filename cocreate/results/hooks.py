"""What features built on results add to it, without results importing them.

The jury depends on results, never the reverse: importing `cocreate.jury` (the app does, as
does anything that loads the tables, `cocreate.models`) registers here which ideas a jury
stage lets through, which `advancement.stage_outcome` asks for every jury stage. Asking with
nothing registered is an error, never a jury stage that lets nothing through.
"""

from __future__ import annotations

from typing import Protocol

from sqlmodel import Session

from cocreate.campaigns.models import Stage


class JuryPicks(Protocol):
    """The ideas a jury stage picked, in its order; None while its scoring is still open."""

    def __call__(self, *, session: Session, stage: Stage) -> list[int] | None: ...


_jury_picks: list[JuryPicks] = []


def register_jury_picks(picks: JuryPicks) -> None:
    """Set how a jury stage's choice is read (one at a time: the last registered)."""
    _jury_picks[:] = [picks]


def jury_picks(*, session: Session, stage: Stage) -> list[int] | None:
    if not _jury_picks:
        raise RuntimeError("No reader of jury stages' choices is registered: import cocreate.jury")
    return _jury_picks[0](session=session, stage=stage)
