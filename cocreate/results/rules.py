"""A round's rules in words, on its results page: how it is counted and who goes on."""

from __future__ import annotations

from sqlmodel import Session

from cocreate.campaigns.models import Stage, StageKind
from cocreate.campaigns.timeline import stage_name
from cocreate.i18n import gettext as _
from cocreate.i18n import ngettext
from cocreate.results.rounds import decisive_stages
from cocreate.voting.methods import method_of
from cocreate.voting.models import Advancement, Round, TieBreak


def rule_sentences(*, session: Session, round_: Round, stage: Stage) -> list[str]:
    """How this round is counted and who goes on, in the reader's language."""
    n = round_.advancement_value
    sentences = [method_of(round_).rule(round_)]
    if round_.advancement == Advancement.TOP_N:
        sentences.append(
            ngettext("The top %(num)d idea goes on.", "The top %(num)d ideas go on.", n)
            % {"num": n}
        )
    elif round_.advancement == Advancement.TOP_PERCENT:
        sentences.append(_("The top %(percent)d%% of the ideas go on.") % {"percent": n})
    elif round_.advancement == Advancement.MIN_VOTES:
        sentences.append(
            ngettext(
                "Every idea with at least %(num)d vote goes on.",
                "Every idea with at least %(num)d votes goes on.",
                n,
            )
            % {"num": n}
        )
    else:
        sentences.append(
            ngettext(
                "The jury picks %(num)d idea to go on.", "The jury picks %(num)d ideas to go on.", n
            )
            % {"num": n}
        )
    if round_.advancement in (Advancement.TOP_N, Advancement.TOP_PERCENT):
        if round_.tie_break == TieBreak.EARLIER_SUBMISSION:
            sentences.append(
                _("A tie at the cut is broken by earlier submission: the first idea goes on.")
            )
        else:
            sentences.append(_("A tie at the cut is decided by the jury."))
    later = [
        s
        for s in decisive_stages(session=session, campaign_id=stage.campaign_id)
        if s.position > stage.position
    ]
    if not later:
        sentences.append(_("The ideas that go on from this round are the winners."))
    elif later[0].kind == StageKind.JURY:
        sentences.append(_("They go to the jury: %(stage)s.") % {"stage": stage_name(later[0])})
    else:
        sentences.append(_("They take part in %(stage)s.") % {"stage": stage_name(later[0])})
    return sentences
