"""Fraud review pages for the brand's moderators and owners: the cases by score, one case with
its evidence, the decisions (void, restore, clear, suspend, unsuspend) and a scan on demand.
Every page works as plain HTML forms; no script is needed."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.brands.service import get_brand_by_slug as get_brand
from cocreate.forms import Form, form_read
from cocreate.fraud import cases, held
from cocreate.fraud.log import FindingKind
from cocreate.fraud.models import CaseStatus
from cocreate.fraud.scan_job import SCAN
from cocreate.i18n import gettext as _
from cocreate.i18n import ngettext
from cocreate.integers import id_or_none, id_param, id_params
from cocreate.jobs import store as jobs
from cocreate.security.access import brand_role, current_user, db, route
from cocreate.voting.models import Round
from cocreate.web import redirect, render

MODERATE = brand_role(Role.OWNER, Role.MODERATOR)
ACTIONS = ("void", "restore", "clear", "suspend", "unsuspend")


def _brand(request: Request) -> Brand:
    brand = get_brand(session=db(request), slug=request.path_params["brand"])
    if brand is None:
        raise HTTPException(404)
    return brand


def _user(request: Request) -> User:
    user = current_user(request)
    assert user is not None and user.id is not None  # the route's access rule signed them in
    return user


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def _base(brand: Brand) -> str:
    return f"/brands/{brand.slug}/fraud"


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def cases_page(request: Request) -> Response:
    brand, session = _brand(request), db(request)
    params = request.query_params
    rounds = cases.brand_rounds(session=session, brand=brand)
    round_id = id_or_none(params.get("round"))  # a filter: ignored when bad, as the others
    if round_id is not None and all(r.round_id != round_id for r in rounds):
        round_id = None
    statuses = tuple(s.value for s in CaseStatus)
    kinds = tuple(k.value for k in FindingKind)
    status = _choice(params.get("status", CaseStatus.OPEN.value), (*statuses, "all"))
    kind = _choice(params.get("kind"), kinds)
    rows = cases.list_cases(
        session=session,
        brand=brand,
        round_id=round_id,
        status=None if status in (None, "all") else status,
        kind=kind,
    )
    filters = {"round": round_id or "", "status": status or "", "kind": kind or ""}
    context: dict[str, Any] = {
        "brand": brand,
        "base": _base(brand),
        "rows": rows,
        "rounds": rounds,
        "filters": filters,
        "statuses": [(s, cases.status_label(s)) for s in statuses],
        "kinds": [(k, cases.kind_label(k)) for k in kinds],
        "kind_label": cases.kind_label,
        "status_label": cases.status_label,
        "gate": cases.GATE_SCORE,
        "max_listed": cases.MAX_LISTED,
        "scan_job": jobs.latest(session=session, subjects=[scan_subject(brand)]).get(
            scan_subject(brand)
        ),
    }
    return render(request, "fraud/cases.html", context)


def _case_row(request: Request, brand: Brand) -> cases.CaseRow:
    found = cases.get_case(session=db(request), brand=brand, case_id=request.path_params["case"])
    if found is None:
        raise HTTPException(404)
    return found


def _case_page(
    request: Request,
    brand: Brand,
    row: cases.CaseRow,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    session = db(request)
    case = row.case
    round_ = session.get(Round, case.round_id)
    decider = session.get(User, case.decided_by_id) if case.decided_by_id else None
    detail = cases.case_detail(session=session, case=case, now=_now(request))
    context: dict[str, Any] = {
        "brand": brand,
        "base": _base(brand),
        "row": row,
        "case": case,
        "detail": detail,
        "certified": round_ is not None and round_.certified_at is not None,
        "decider": decider,
        "kind_label": cases.kind_label,
        "status_label": cases.status_label,
        "signal_label": cases.signal_label,
        "gate": cases.GATE_SCORE,
        "error": error,
    }
    return render(request, "fraud/case.html", context, status_code=status_code)


def case_page(request: Request) -> Response:
    brand = _brand(request)
    return _case_page(request, brand, _case_row(request, brand))


def decide_case(request: Request) -> Response:
    brand, user, session = _brand(request), _user(request), db(request)
    row = _case_row(request, brand)
    form = Form(form_read(request))
    action = _choice(form.raw("action"), ACTIONS)
    reason = form.raw("reason")[: cases.REASON_MAX * 2]
    if action is None:
        return _case_page(
            request, brand, row, error=_("Choose one of the options."), status_code=400
        )
    decide = {
        "void": cases.void_case,
        "restore": cases.restore_case,
        "clear": cases.clear_case,
        "suspend": cases.suspend_accounts,
        "unsuspend": cases.unsuspend_accounts,
    }[action]
    try:
        done = decide(
            session=session, case=row.case, actor_id=_id(user), reason=reason, now=_now(request)
        )
    except cases.Refused as exc:
        session.rollback()
        fresh = _case_row(request, brand)
        return _case_page(request, brand, fresh, error=exc.message, status_code=exc.status)
    messages = {
        "void": _("The case's votes are void (%(n)d). The results are recounted."),
        "restore": _("The void is undone (%(n)d votes restored). The case is open again."),
        "clear": _("The case is cleared: no fraud."),
        "suspend": _("%(n)d accounts suspended and signed out."),
        "unsuspend": _("%(n)d accounts can sign in again."),
    }
    count = done.accounts_changed if action in ("suspend", "unsuspend") else done.votes_changed
    message = messages[action] % {"n": count} if "%(n)d" in messages[action] else messages[action]
    return redirect(f"{_base(brand)}/cases/{row.case.id}", flash=message, request=request)


def _id(user: User) -> int:
    assert user.id is not None
    return user.id


def scan(request: Request) -> Response:
    """Scan one round now, as a job (the scan also runs before certification and from the
    command); its progress shows on the review page."""
    brand, session = _brand(request), db(request)
    form = Form(form_read(request))
    round_id = id_param(form.raw("round"))
    rounds = {r.round_id for r in cases.brand_rounds(session=session, brand=brand)}
    if round_id not in rounds:
        return redirect(_base(brand), flash=_("Choose a round to scan."), request=request)
    request.app.state.jobs.enqueue(
        session=session,
        task=SCAN,
        args={"round_id": round_id},
        subject=scan_subject(brand),
        requested_by_id=_id(_user(request)),
        brand_id=brand.id,
    )
    query = urlencode({"round": round_id, "status": "open"})
    return redirect(f"{_base(brand)}?{query}", request=request)


def scan_subject(brand: Brand) -> str:
    """The brand's scans, the latest of which its review page shows."""
    return f"fraud-scan:brand:{brand.id}"


def _round_choice(request: Request, brand: Brand) -> cases.RoundChoice:
    wanted = request.path_params["round"]
    for choice in cases.brand_rounds(session=db(request), brand=brand):
        if choice.round_id == wanted:
            return choice
    raise HTTPException(404)


def _held_url(brand: Brand, round_id: int) -> str:
    return f"{_base(brand)}/rounds/{round_id}/held"


def _held_page(
    request: Request,
    brand: Brand,
    choice: cases.RoundChoice,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    session = db(request)
    after = held.parse_cursor(request.query_params.get("after"))
    page = held.held_page(session=session, round_id=choice.round_id, now=_now(request), after=after)
    round_ = session.get(Round, choice.round_id)
    context: dict[str, Any] = {
        "brand": brand,
        "base": _base(brand),
        "url": _held_url(brand, choice.round_id),
        "choice": choice,
        "totals": held.held_totals(session=session, round_id=choice.round_id),
        "page": page,
        "paged": after is not None,
        "certified": round_ is not None and round_.certified_at is not None,
        "error": error,
    }
    return render(request, "fraud/held.html", context, status_code=status_code)


def held_votes(request: Request) -> Response:
    brand = _brand(request)
    return _held_page(request, brand, _round_choice(request, brand))


def _decision(value: str) -> tuple[str, int | None] | None:
    """ "count" or "void" for the ticked voters, "count-<id>" or "void-<id>" for one voter."""
    action, _sep, voter = value.partition("-")
    if action not in held.ACTIONS:
        return None
    return action, id_param(voter)  # a 400 when malformed


def decide_held(request: Request) -> Response:
    brand, user, session = _brand(request), _user(request), db(request)
    choice = _round_choice(request, brand)
    form = form_read(request)
    decision = _decision(str(form.get("action") or ""))
    if decision is None:
        return _held_page(
            request, brand, choice, error=_("Choose one of the options."), status_code=400
        )
    action, one = decision
    if one is not None:
        voters = [one]
    else:
        voters = id_params(form.getlist("voter"))
    reason = str(form.get("reason") or "")[: cases.REASON_MAX * 2]
    try:
        done = held.decide_held(
            session=session,
            round_id=choice.round_id,
            voter_ids=voters,
            action=action,
            actor_id=_id(user),
            reason=reason,
            now=_now(request),
        )
    except cases.Refused as exc:
        session.rollback()
        return _held_page(request, brand, choice, error=exc.message, status_code=exc.status)
    n = done.votes_changed
    if action == "count":
        message = ngettext("%(num)d held vote now counts.", "%(num)d held votes now count.", n)
    else:
        message = ngettext("%(num)d held vote is now void.", "%(num)d held votes are now void.", n)
    message = message % {"num": n}
    return redirect(_held_url(brand, choice.round_id), flash=message, request=request)


routes = [
    route("/brands/{brand}/fraud/rounds/{round:id}/held", held_votes, access=MODERATE),
    route(
        "/brands/{brand}/fraud/rounds/{round:id}/held/decide",
        decide_held,
        access=MODERATE,
        methods=["POST"],
    ),
    route("/brands/{brand}/fraud", cases_page, access=MODERATE),
    route("/brands/{brand}/fraud/scan", scan, access=MODERATE, methods=["POST"]),
    route("/brands/{brand}/fraud/cases/{case:id}", case_page, access=MODERATE),
    route(
        "/brands/{brand}/fraud/cases/{case:id}/decide",
        decide_case,
        access=MODERATE,
        methods=["POST"],
    ),
]
