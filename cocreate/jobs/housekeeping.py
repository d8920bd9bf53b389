"""Periodic clean-up that belongs to no page."""

from __future__ import annotations

from cocreate.jobs.registry import JobContext, periodic

PURGE_INTERVAL_SECONDS = 60.0  # finally rejected ideas' images: see purge_rejected_images


@periodic("ideas.purge_rejected_images", every=lambda settings: PURGE_INTERVAL_SECONDS)
def purge_rejected_images(ctx: JobContext) -> None:
    from cocreate.moderation.service import purge_rejected_images as purge

    with ctx.session() as session:
        purge(session=session, storage=ctx.runtime.storage, clock=ctx.clock)
