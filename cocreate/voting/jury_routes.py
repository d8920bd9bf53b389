"""Jury pages: the marketer sets criteria and picks, jurors score, the jury decides ties.

Everything is under /brands/{brand}/campaigns/{slug}/jury so `brand_role` checks the
visitor's role in that brand; the campaign, stage, idea and criterion named in a form or a
query are then looked up *within* that campaign, so a juror of one brand never reaches
another brand's jury by editing an address or a form.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.campaigns import service as campaigns
from cocreate.campaigns.display import local_time
from cocreate.campaigns.models import Campaign, Stage
from cocreate.campaigns.timeline import stage_name
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.integers import id_or_none, id_param, id_params, int_or_none
from cocreate.markdown import render_markdown
from cocreate.security.access import brand_role, current_user, db, route
from cocreate.security.permissions import has_brand_role
from cocreate.voting import jury, results
from cocreate.voting.results_models import JuryCriterion
from cocreate.web import redirect, render

RUN_CAMPAIGNS = brand_role(Role.OWNER, Role.MARKETER)
JURY_PAGE = brand_role(Role.OWNER, Role.MARKETER, Role.JURY)
JURORS = brand_role(Role.JURY)
MANAGERS = (Role.OWNER, Role.MARKETER)


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def _user(request: Request) -> User:
    user = current_user(request)
    assert user is not None  # every route here requires a signed-in member
    return user


def _brand_campaign(request: Request) -> tuple[Campaign, Brand]:
    session = db(request)
    brand = campaigns.get_brand(session=session, slug=request.path_params["brand"])
    if brand is None:
        raise HTTPException(404)
    campaign = campaigns.get_brand_campaign(
        session=session, brand_id=brand.id or 0, slug=request.path_params["slug"]
    )
    if campaign is None:
        raise HTTPException(404)
    return campaign, brand


def _jury_stage(request: Request, campaign: Campaign, raw: str | None) -> Stage:
    """A jury stage of this campaign, by id; the first one when none is named."""
    stages = jury.jury_stages(session=db(request), campaign_id=campaign.id or 0)
    if raw is None:
        if not stages:
            raise HTTPException(404)
        return stages[0]
    wanted = id_param(raw)
    for stage in stages:
        if stage.id == wanted:
            return stage
    raise HTTPException(404)


def _jury_url(brand: Brand, campaign: Campaign) -> str:
    return f"/brands/{brand.slug}/campaigns/{campaign.slug}/jury"


# --- The jury page ---------------------------------------------------------------------------


def _stage_view(
    request: Request, campaign: Campaign, brand: Brand, stage: Stage, *, manager: bool
) -> dict[str, Any]:
    session = db(request)
    now = _now(request)
    user = _user(request)
    criteria = jury.criteria_of(session=session, stage_id=stage.id or 0)
    panel = jury.panel_of(session=session, stage=stage)
    inputs = jury.candidates_of(session=session, stage=stage)
    jurors = jury.jurors_of(session=session, brand_id=brand.id or 0)
    juror = jury.is_juror(session=session, brand_id=brand.id or 0, user=user)
    rows = jury.progress(
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
        "candidates": jury.candidates_for_juror(
            session=session, stage=stage, juror_id=user.id, criteria=len(criteria)
        )
        if juror
        else [],
        "progress": rows,
        "scoring_problem": jury.scoring_problem(session=session, stage=stage, now=now),
        "finalised": finalised,
        "finalise_problems": jury.finalise_problems(
            session=session, campaign=campaign, stage=stage, now=now
        )
        if manager and not finalised
        else [],
        "standings": jury.jury_standings(
            session=session, stage=stage, idea_ids=inputs.ideas, criteria=criteria
        )
        if manager and not finalised
        else [],
        "outcomes": jury.outcomes_of(session=session, stage=stage) if finalised else [],
        "juror_count": len(jurors),
    }


def _jury_page(
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
    user = _user(request)
    manager = has_brand_role(session=session, user=user, brand=brand, roles=MANAGERS)
    juror = jury.is_juror(session=session, brand_id=brand.id or 0, user=user)
    stages = jury.jury_stages(session=session, campaign_id=campaign.id or 0)
    return render(
        request,
        "voting/jury.html",
        {
            "campaign": campaign,
            "brand": brand,
            "manager": manager,
            "juror": juror,
            "views": [_stage_view(request, campaign, brand, s, manager=manager) for s in stages],
            "pending": results.pending_decisions(session=session, campaign_id=campaign.id or 0),
            "errors": errors or {},
            "values": values or {},
            "error_stage": error_stage,
        },
        status_code=status_code,
    )


def jury_page(request: Request) -> Response:
    campaign, brand = _brand_campaign(request)
    return _jury_page(request, campaign, brand)


# --- The marketer's settings -------------------------------------------------------------


def criterion_add(request: Request) -> Response:
    campaign, brand = _brand_campaign(request)
    form = Form(form_read(request))
    stage = _jury_stage(request, campaign, form.raw("stage_id"))
    name = form.text("name", max_length=80)
    description = form.text("description", max_length=300, required=False)
    weight = int_or_none(form.raw("weight").strip(), minimum=1, maximum=100)
    if weight is None:
        form.errors["weight"] = _("Give a weight from 1 to 100.")
    values = {"name": name, "description": description, "weight": form.raw("weight")[:6]}
    try:
        form.check()
        assert weight is not None
        jury.add_criterion(
            session=db(request),
            stage=stage,
            name=name,
            description=description,
            weight=weight,
            actor_id=_user(request).id,
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return _jury_page(
            request,
            campaign,
            brand,
            errors=exc.errors,
            values=values,
            error_stage=stage.id,
            status_code=400,
        )
    return redirect(_jury_url(brand, campaign), flash=_("Criterion added."), request=request)


def criterion_remove(request: Request) -> Response:
    campaign, brand = _brand_campaign(request)
    form = Form(form_read(request))
    stage = _jury_stage(request, campaign, form.raw("stage_id"))
    try:
        criterion_id = id_or_none(form.raw("criterion_id"))
        if criterion_id is None:
            raise ValidationFailed({"": _("This criterion does not exist any more.")})
        jury.remove_criterion(
            session=db(request),
            stage=stage,
            criterion_id=criterion_id,
            actor_id=_user(request).id,
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return _jury_page(
            request, campaign, brand, errors=exc.errors, error_stage=stage.id, status_code=400
        )
    return redirect(_jury_url(brand, campaign), flash=_("Criterion removed."), request=request)


def jury_settings(request: Request) -> Response:
    campaign, brand = _brand_campaign(request)
    form = Form(form_read(request))
    stage = _jury_stage(request, campaign, form.raw("stage_id"))
    picks = int_or_none(form.raw("picks").strip(), minimum=1, maximum=jury.MAX_PICKS)
    try:
        if picks is None:
            raise ValidationFailed(
                {"picks": _("Give a number from 1 to %(n)d.") % {"n": jury.MAX_PICKS}}
            )
        jury.set_picks(session=db(request), stage=stage, picks=picks, actor_id=_user(request).id)
    except ValidationFailed as exc:
        db(request).rollback()
        return _jury_page(
            request,
            campaign,
            brand,
            errors=exc.errors,
            values={"picks": form.raw("picks")[:6]},
            error_stage=stage.id,
            status_code=400,
        )
    return redirect(_jury_url(brand, campaign), flash=_("Saved."), request=request)


def jury_finalise(request: Request) -> Response:
    campaign, brand = _brand_campaign(request)
    form = Form(form_read(request))
    stage = _jury_stage(request, campaign, form.raw("stage_id"))
    try:
        jury.finalise(
            session=db(request),
            campaign=campaign,
            stage=stage,
            actor_id=_user(request).id,
            now=_now(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return _jury_page(
            request, campaign, brand, errors=exc.errors, error_stage=stage.id, status_code=400
        )
    return redirect(
        _jury_url(brand, campaign),
        flash=_("The jury's scoring is closed and its choice is published."),
        request=request,
    )


# --- Scoring ---------------------------------------------------------------------------------


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
    user = _user(request)
    juror = jury.is_juror(session=session, brand_id=brand.id or 0, user=user)
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
            "problem": jury.scoring_problem(session=session, stage=stage, now=_now(request)),
        },
        status_code=status_code,
    )


def _candidate(request: Request, stage: Stage, raw: str | None) -> Idea:
    idea_id = id_param(raw)
    if idea_id is None or idea_id not in jury.candidates_of(session=db(request), stage=stage).ideas:
        raise HTTPException(404)  # only the ideas this jury scores, so only this campaign's
    idea = db(request).get(Idea, idea_id)
    if idea is None:
        raise HTTPException(404)
    return idea


def score(request: Request) -> Response:
    campaign, brand = _brand_campaign(request)
    session = db(request)
    user = _user(request)
    if request.method == "GET":
        stage = _jury_stage(request, campaign, request.query_params.get("stage"))
        idea = _candidate(request, stage, request.query_params.get("idea"))
        criteria = jury.criteria_of(session=session, stage_id=stage.id or 0)
        given = jury.scores_of(
            session=session, stage=stage, juror_id=user.id or 0, idea_id=idea.id or 0
        )
        shown = {c: str(s) for c, s in given.items()}
        return _score_page(request, campaign, brand, stage, idea, criteria, shown, {})
    form = Form(form_read(request))
    stage = _jury_stage(request, campaign, form.raw("stage_id"))
    idea = _candidate(request, stage, form.raw("idea_id"))
    criteria = jury.criteria_of(session=session, stage_id=stage.id or 0)
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
        jury.score_idea(
            session=session,
            campaign=campaign,
            stage=stage,
            juror=user,
            idea_id=idea.id or 0,
            scores=scores,
            now=_now(request),
        )
    except ValidationFailed as exc:
        session.rollback()
        return _score_page(request, campaign, brand, stage, idea, criteria, values, exc.errors, 400)
    # On to the next idea this juror has not finished, so scoring is one form after another.
    remaining = [
        c
        for c in jury.candidates_for_juror(
            session=session, stage=stage, juror_id=user.id, criteria=len(criteria)
        )
        if not c.done
    ]
    if remaining:
        target = f"{_jury_url(brand, campaign)}/score?stage={stage.id}&idea={remaining[0].idea.id}"
        return redirect(
            target,
            flash=_("Scores saved for “%(title)s”.") % {"title": idea.title},
            request=request,
        )
    return redirect(
        _jury_url(brand, campaign),
        flash=_("Scores saved. You have scored every idea."),
        request=request,
    )


# --- The jury's decision on ties and jury-picked rounds ----------------------------------------


def decide(request: Request) -> Response:
    campaign, brand = _brand_campaign(request)
    session = db(request)
    form = Form(form_read(request))
    raw_round = id_or_none(form.raw("round_id"))
    info = next(
        (
            i
            for i in results.campaign_rounds(session=session, campaign_id=campaign.id or 0)
            if i.round.id == raw_round
        ),
        None,
    )
    chosen = id_params(form.data.getlist("idea"))
    try:
        if info is None:
            raise ValidationFailed({"": _("This round does not exist any more: reload the page.")})
        user = _user(request)
        if not jury.is_juror(session=session, brand_id=brand.id or 0, user=user):
            raise ValidationFailed({"": _("Only members of the brand's jury decide.")})
        results.decide_advancement(
            session=session, round_=info.round, chosen=chosen, actor_id=user.id, now=_now(request)
        )
    except ValidationFailed as exc:
        session.rollback()
        return _jury_page(request, campaign, brand, errors=exc.errors, status_code=400)
    return redirect(
        _jury_url(brand, campaign), flash=_("The jury's decision is recorded."), request=request
    )


JURY = "/brands/{brand}/campaigns/{slug}/jury"

routes = [
    route(JURY, jury_page, access=JURY_PAGE),
    route(JURY + "/criteria", criterion_add, access=RUN_CAMPAIGNS, methods=["POST"]),
    route(JURY + "/criteria/remove", criterion_remove, access=RUN_CAMPAIGNS, methods=["POST"]),
    route(JURY + "/settings", jury_settings, access=RUN_CAMPAIGNS, methods=["POST"]),
    route(JURY + "/finalise", jury_finalise, access=RUN_CAMPAIGNS, methods=["POST"]),
    route(JURY + "/score", score, access=JURORS, methods=["GET", "POST"]),
    route(JURY + "/decide", decide, access=JURORS, methods=["POST"]),
]
