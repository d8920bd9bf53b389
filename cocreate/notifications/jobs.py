"""The email outbox's sender, as a periodic job: once per COCREATE_OUTBOX_INTERVAL across
every worker and host (and `deliver_due` skips mails another sender holds)."""

from __future__ import annotations

from cocreate.jobs.registry import JobContext, periodic
from cocreate.notifications.service import deliver_due


@periodic("notifications.deliver", every=lambda settings: settings.outbox_interval_seconds)
def deliver(ctx: JobContext) -> None:
    settings = ctx.settings
    deliver_due(ctx.runtime.engine, settings.smtp_url, settings.mail_from, clock=ctx.clock)
