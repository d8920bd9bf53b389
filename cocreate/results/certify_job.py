"""Certification of a round's results, as a job (the results console's "Certify" button)."""

from __future__ import annotations

import time

from cocreate.campaigns.models import Stage
from cocreate.campaigns.timeline import stage_name
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.jobs.registry import JobContext, JobFailed, task
from cocreate.results.certify import certify_round
from cocreate.voting.models import Round

CERTIFY = "results.certify"
PROGRESS_EVERY = 1.0  # seconds between two progress reports


@task(CERTIFY)
def certify(ctx: JobContext, *, round_id: int, actor_id: int | None = None) -> str:
    """Idempotent: a round certified by an earlier run (its worker died after the commit)
    is reported as certified, never certified twice."""
    with ctx.session() as session:
        round_ = session.get(Round, round_id)
        stage = session.get(Stage, round_.stage_id) if round_ is not None else None
        if round_ is None or stage is None:
            raise JobFailed(_("This round does not exist any more."))
        name = stage_name(stage)
        if round_.certified_at is None:
            ctx.progress(_("Scanning the votes for fraud, then counting them…"))
            reported = [time.monotonic()]

            def counted(votes: int) -> None:
                if time.monotonic() - reported[0] >= PROGRESS_EVERY:
                    reported[0] = time.monotonic()
                    ctx.progress(_("Counting the votes: %(num)s read so far…") % {"num": votes})

            try:
                certify_round(
                    session=session,
                    round_=round_,
                    now=ctx.clock.now(),
                    actor_id=actor_id,
                    progress=counted,
                )
            except ValidationFailed as exc:
                raise JobFailed(" ".join(exc.errors.values())) from None
            session.refresh(round_)
    return _("%(round)s is certified. Digest: %(digest)s") % {
        "round": name,
        "digest": round_.digest,
    }
