"""The jury page: every jury stage of the campaign, as its viewer may act on it (the
marketer's settings and the ranking so far, a juror's candidates, everyone's progress), and
the certified rounds that wait for the jury's decision. The jury's forms answer with it when
they find a problem."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cocreate.brands.models import Brand, Role
from cocreate.campaigns.display import local_time
from cocreate.campaigns.models import Campaign, Stage
from cocreate.campaigns.page_helpers import now_of
from cocreate.campaigns.timeline import stage_name
from cocreate.jury.finalise import finalise_problems
from cocreate.jury.page_helpers import brand_campaign, user_of
from cocreate.jury.panel import (
    candidates_for_juror,
    candidates_of,
    criteria_of,
    is_juror,
    jurors_of,
    jury_stages,
    panel_of,
    progress,
)
from cocreate.jury.scoring import scoring_problem
from cocreate.jury.standings import jury_standings, outcomes_of
from cocreate.results.decisions import pending_decisions
from cocreate.security.access import db
from cocreate.security.permissions import has_brand_role
from cocreate.web import render

MANAGERS = (Role.OWNER, Role.MARKETER)


def _stage_view(
    request: Request, campaign: Campaign, brand: Brand, stage: Stage, *, manager: bool
) -> dict[str, Any]:
    session = db(request)
    now = now_of(request)
    user = user_of(request)
    criteria = criteria_of(session=session, stage_id=stage.id or 0)
    panel = panel_of(session=session, stage=stage)
    inputs = candidates_of(session=session, stage=stage)
    jurors = jurors_of(session=session, brand_id=brand.id or 0)
    juror = is_juror(session=session, brand_id=brand.id or 0, user=user)
    rows = progress(
        session=session,
        stage=stage,
        jurors=jurors if manager else [user] if juror else [],
        candidates=len(inputs.ideas),
        criteria=len(criteria),
    )
    finalised = panel.finalised_at is not None
    return {
        "stage": stage,
        "name": stage_name(stage),
        "opens": local_time(stage.opens_at, campaign.timezone),
        "closes": local_time(stage.closes_at, campaign.timezone),
        "criteria": criteria,
        "total_weight": sum(c.weight for c in criteria),
        "panel": panel,
        "inputs_ready": inputs.ready,
        "candidate_count": len(inputs.ideas),
        "candidates": candidates_for_juror(
            session=session, stage=stage, juror_id=user.id, criteria=len(criteria)
        )
        if juror
        else [],
        "progress": rows,
        "scoring_problem": scoring_problem(session=session, stage=stage, now=now),
        "finalised": finalised,
        "finalise_problems": finalise_problems(
            session=session, campaign=campaign, stage=stage, now=now
        )
        if manager and not finalised
        else [],
        "standings": jury_standings(
            session=session, stage=stage, idea_ids=inputs.ideas, criteria=criteria
        )
        if manager and not finalised
        else [],
        "outcomes": outcomes_of(session=session, stage=stage) if finalised else [],
        "juror_count": len(jurors),
    }


def render_jury_page(
    request: Request,
    campaign: Campaign,
    brand: Brand,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    error_stage: int | None = None,
    status_code: int = 200,
) -> Response:
    session = db(request)
    user = user_of(request)
    manager = has_brand_role(session=session, user=user, brand=brand, roles=MANAGERS)
    juror = is_juror(session=session, brand_id=brand.id or 0, user=user)
    stages = jury_stages(session=session, campaign_id=campaign.id or 0)
    return render(
        request,
        "voting/jury.html",
        {
            "campaign": campaign,
            "brand": brand,
            "manager": manager,
            "juror": juror,
            "views": [_stage_view(request, campaign, brand, s, manager=manager) for s in stages],
            "pending": pending_decisions(session=session, campaign_id=campaign.id or 0),
            "errors": errors or {},
            "values": values or {},
            "error_stage": error_stage,
        },
        status_code=status_code,
    )


def jury_page(request: Request) -> Response:
    campaign, brand = brand_campaign(request)
    return render_jury_page(request, campaign, brand)
