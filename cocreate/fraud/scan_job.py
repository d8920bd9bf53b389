"""The fraud scan of one round, as a job ("scan now" on the fraud review page)."""

from __future__ import annotations

from cocreate.fraud import cases
from cocreate.i18n import gettext as _
from cocreate.jobs.registry import JobContext, JobFailed, task
from cocreate.voting.models import Round

SCAN = "fraud.scan"


@task(SCAN)
def scan(ctx: JobContext, *, round_id: int) -> str:
    """Idempotent: a second scan finds the same groups and updates their cases."""
    with ctx.session() as session:
        round_ = session.get(Round, round_id)
        if round_ is None:
            raise JobFailed(_("This round does not exist any more."))
        ctx.progress(_("Reading the round's votes and looking for vote rings…"))
        done = cases.scan_round(session=session, round_=round_, now=ctx.clock.now())
    return _(
        "Scan done: %(votes)d votes by %(accounts)d accounts; %(opened)d new cases, "
        "%(updated)d updated."
    ) % {
        "votes": done.votes,
        "accounts": done.accounts,
        "opened": done.opened,
        "updated": done.updated,
    }
