"""The results feature's addresses: a round's public results and its CSV exports, the
winners and their share card, and the brand's results console (certification, the winners'
announcement). Handlers in public_pages.py, winners_card.py and console_pages.py."""

from __future__ import annotations

from cocreate.brands.models import Role
from cocreate.results.console_pages import console_announcement, console_certify, console_results
from cocreate.results.public_pages import results_csv, results_page, votes_csv, winners_page
from cocreate.results.winners_card import winners_card_image
from cocreate.security.access import PUBLIC, brand_role, route

RUN_CAMPAIGNS = brand_role(Role.OWNER, Role.MARKETER)

routes = [
    route("/c/{slug}/results", results_page, access=PUBLIC),
    route("/c/{slug}/results.csv", results_csv, access=PUBLIC),
    route("/c/{slug}/votes.csv", votes_csv, access=PUBLIC),
    route("/c/{slug}/winners", winners_page, access=PUBLIC),
    route("/c/{slug}/winners/card.png", winners_card_image, access=PUBLIC),
    route("/brands/{brand}/campaigns/{slug}/results", console_results, access=RUN_CAMPAIGNS),
    route(
        "/brands/{brand}/campaigns/{slug}/results/certify",
        console_certify,
        access=RUN_CAMPAIGNS,
        methods=["POST"],
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/announcement",
        console_announcement,
        access=RUN_CAMPAIGNS,
        methods=["GET", "POST"],
    ),
]
