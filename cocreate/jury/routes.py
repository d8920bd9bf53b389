"""The jury feature's addresses, all under a campaign of a brand: the jury page, the
marketer's settings, a juror's scores, and the jury's decision on a certified round's
undecided ideas. Handlers in jury_page.py, settings_pages.py, score_pages.py and
decision_pages.py."""

from __future__ import annotations

from cocreate.brands.models import Role
from cocreate.jury.decision_pages import decide
from cocreate.jury.jury_page import jury_page
from cocreate.jury.score_pages import score
from cocreate.jury.settings_pages import (
    criterion_add,
    criterion_remove,
    jury_finalise,
    jury_settings,
)
from cocreate.security.access import brand_role, route

RUN_CAMPAIGNS = brand_role(Role.OWNER, Role.MARKETER)
JURY_PAGE = brand_role(Role.OWNER, Role.MARKETER, Role.JURY)
JURORS = brand_role(Role.JURY)

routes = [
    route("/brands/{brand}/campaigns/{slug}/jury", jury_page, access=JURY_PAGE),
    route(
        "/brands/{brand}/campaigns/{slug}/jury/criteria",
        criterion_add,
        access=RUN_CAMPAIGNS,
        methods=["POST"],
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/jury/criteria/remove",
        criterion_remove,
        access=RUN_CAMPAIGNS,
        methods=["POST"],
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/jury/settings",
        jury_settings,
        access=RUN_CAMPAIGNS,
        methods=["POST"],
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/jury/finalise",
        jury_finalise,
        access=RUN_CAMPAIGNS,
        methods=["POST"],
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/jury/score",
        score,
        access=JURORS,
        methods=["GET", "POST"],
    ),
    route("/brands/{brand}/campaigns/{slug}/jury/decide", decide, access=JURORS, methods=["POST"]),
]
