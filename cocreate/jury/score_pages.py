"""A juror's scoring form: one candidate at a time, every criterion from 0 to 10, then on to
the next candidate the juror has not finished."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign, Stage
from cocreate.campaigns.page_helpers import now_of
from cocreate.campaigns.timeline import stage_name
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.integers import id_param, int_or_none
from cocreate.jury.models import JuryCriterion
from cocreate.jury.page_helpers import brand_campaign, jury_stage, jury_url, user_of
from cocreate.jury.panel import (
    candidates_for_juror,
    candidates_of,
    criteria_of,
    is_juror,
    scores_of,
)
from cocreate.jury.scoring import score_idea, scoring_problem
from cocreate.markdown import render_markdown
from cocreate.security.access import db
from cocreate.web import redirect, render


def _score_page(
    request: Request,
    campaign: Campaign,
    brand: Brand,
    stage: Stage,
    idea: Idea,
    criteria: list[JuryCriterion],
    values: dict[int, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    session = db(request)
    user = user_of(request)
    juror = is_juror(session=session, brand_id=brand.id or 0, user=user)
    return render(
        request,
        "voting/jury_score.html",
        {
            "campaign": campaign,
            "brand": brand,
            "stage": stage,
            "name": stage_name(stage),
            "idea": idea,
            "description": render_markdown(idea.description),
            "criteria": criteria,
            "values": values,
            "errors": errors,
            "juror": juror,
            "problem": scoring_problem(session=session, stage=stage, now=now_of(request)),
        },
        status_code=status_code,
    )


def _candidate(request: Request, stage: Stage, raw: str | None) -> Idea:
    idea_id = id_param(raw)
    if idea_id is None or idea_id not in candidates_of(session=db(request), stage=stage).ideas:
        raise HTTPException(404)  # only the ideas this jury scores, so only this campaign's
    idea = db(request).get(Idea, idea_id)
    if idea is None:
        raise HTTPException(404)
    return idea


def score(request: Request) -> Response:
    campaign, brand = brand_campaign(request)
    session = db(request)
    user = user_of(request)
    if request.method == "GET":
        stage = jury_stage(request, campaign, request.query_params.get("stage"))
        idea = _candidate(request, stage, request.query_params.get("idea"))
        criteria = criteria_of(session=session, stage_id=stage.id or 0)
        given = scores_of(session=session, stage=stage, juror_id=user.id or 0, idea_id=idea.id or 0)
        shown = {c: str(s) for c, s in given.items()}
        return _score_page(request, campaign, brand, stage, idea, criteria, shown, {})
    form = Form(form_read(request))
    stage = jury_stage(request, campaign, form.raw("stage_id"))
    idea = _candidate(request, stage, form.raw("idea_id"))
    criteria = criteria_of(session=session, stage_id=stage.id or 0)
    scores: dict[int, int] = {}
    values: dict[int, str] = {}
    for criterion in criteria:
        name = f"score-{criterion.id}"
        raw = form.raw(name).strip()[:4]
        values[criterion.id or 0] = raw
        number = int_or_none(raw, minimum=0, maximum=10)
        if number is None:
            form.errors[name] = _("Give a score from 0 to 10.")
        else:
            scores[criterion.id or 0] = number
    try:
        form.check()
        score_idea(
            session=session,
            campaign=campaign,
            stage=stage,
            juror=user,
            idea_id=idea.id or 0,
            scores=scores,
            now=now_of(request),
        )
    except ValidationFailed as exc:
        session.rollback()
        return _score_page(request, campaign, brand, stage, idea, criteria, values, exc.errors, 400)
    # On to the next idea this juror has not finished, so scoring is one form after another.
    remaining = [
        c
        for c in candidates_for_juror(
            session=session, stage=stage, juror_id=user.id, criteria=len(criteria)
        )
        if not c.done
    ]
    if remaining:
        target = f"{jury_url(brand, campaign)}/score?stage={stage.id}&idea={remaining[0].idea.id}"
        return redirect(
            target,
            flash=_("Scores saved for “%(title)s”.") % {"title": idea.title},
            request=request,
        )
    return redirect(
        jury_url(brand, campaign),
        flash=_("Scores saved. You have scored every idea."),
        request=request,
    )
