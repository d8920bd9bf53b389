"""The moderation feature's addresses: the queue, one item, decisions and undo, bulk,
history, health, settings, and the report form. Every page works as plain HTML forms; htmx
swaps the item in place."""

from __future__ import annotations

from cocreate.brands.models import Role
from cocreate.moderation.decision_pages import bulk_decide, decide_item, undo_decision
from cocreate.moderation.history import HISTORY_ROLES
from cocreate.moderation.item_pages import item_page, next_item
from cocreate.moderation.queue_pages import health_page, history_fragment, queue_page
from cocreate.moderation.report_pages import report_page
from cocreate.moderation.settings_page import settings_page
from cocreate.security.access import SIGNED_IN, brand_role, route

MODERATE = brand_role(Role.OWNER, Role.MODERATOR)
STAFF = brand_role(*HISTORY_ROLES)
OWNERS = brand_role(Role.OWNER)

routes = [
    route("/brands/{brand}/moderation", queue_page, access=MODERATE),
    route("/brands/{brand}/moderation/next", next_item, access=MODERATE),
    route("/brands/{brand}/moderation/ideas/{idea:id}", item_page, access=MODERATE),
    route(
        "/brands/{brand}/moderation/ideas/{idea:id}/decide",
        decide_item,
        access=MODERATE,
        methods=["POST"],
    ),
    route("/brands/{brand}/moderation/undo", undo_decision, access=MODERATE, methods=["POST"]),
    route("/brands/{brand}/moderation/bulk", bulk_decide, access=MODERATE, methods=["POST"]),
    route("/brands/{brand}/moderation/ideas/{idea:id}/history", history_fragment, access=STAFF),
    route("/brands/{brand}/moderation/health", health_page, access=MODERATE),
    route(
        "/brands/{brand}/moderation/settings",
        settings_page,
        access=OWNERS,
        methods=["GET", "POST"],
    ),
    route("/ideas/{idea:id}/report", report_page, access=SIGNED_IN, methods=["GET", "POST"]),
]
