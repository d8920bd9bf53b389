"""The periodic job that deletes the images of finally rejected ideas (`purge.py`)."""

from __future__ import annotations

from cocreate.jobs.registry import JobContext, periodic
from cocreate.moderation.purge import purge_rejected_images as purge

PURGE_INTERVAL_SECONDS = 60.0  # finally rejected ideas' images: see purge_rejected_images


@periodic("ideas.purge_rejected_images", every=lambda settings: PURGE_INTERVAL_SECONDS)
def purge_rejected_images(ctx: JobContext) -> None:
    with ctx.session() as session:
        purge(session=session, storage=ctx.runtime.storage, clock=ctx.clock)
