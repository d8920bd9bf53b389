"""Moderation's part of the header: for each brand a person moderates, the queue with how
many ideas wait (pending or reported), registered with the header's navigation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.i18n import gettext as _
from cocreate.moderation.queue import brand_campaigns, count_text, queue_counts
from cocreate.security.permissions import MODERATE, NavLink, register_nav_part

WAITING = ("pending", "reported")  # the views a moderator works through


def header_links(
    session: Session, user: User, memberships: Sequence[tuple[Brand, Role]], now: datetime
) -> list[NavLink]:
    links = []
    for brand, role in memberships:
        if role not in MODERATE:
            continue
        campaigns = brand_campaigns(session=session, brand=brand)
        counts = queue_counts(session=session, brand=brand, campaigns=campaigns, now=now)
        waiting = sum(counts[view] for view in WAITING)
        label = _("Moderation %(brand)s: %(count)s waiting") % {
            "brand": brand.name,
            "count": count_text(waiting),
        }
        links.append(NavLink(label, f"/brands/{brand.slug}/moderation"))
    return links


def register() -> None:
    register_nav_part(header_links)
