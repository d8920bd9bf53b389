"""A job's progress: a small fragment the page that started the job polls (htmx), or a page
of its own with a refresh link where there is no script."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.brands.models import Brand, Role
from cocreate.jobs import store
from cocreate.jobs.models import Job
from cocreate.security.access import SIGNED_IN, current_user, db, route
from cocreate.security.permissions import has_brand_role
from cocreate.security.redirects import safe_next
from cocreate.web import render

STAFF = (Role.OWNER, Role.MARKETER, Role.MODERATOR)


def may_see(request: Request, job: Job) -> bool:
    """The person who started the job, the staff of its brand, administrators."""
    user = current_user(request)
    if user is None:
        return False
    if user.is_admin or (job.requested_by_id is not None and job.requested_by_id == user.id):
        return True
    brand = db(request).get(Brand, job.brand_id) if job.brand_id is not None else None
    return brand is not None and has_brand_role(
        session=db(request), user=user, brand=brand, roles=STAFF
    )


def job_status(request: Request) -> Response:
    job = store.get(session=db(request), job_id=request.path_params["job"])
    if job is None or not may_see(request, job):
        raise HTTPException(404)
    back = safe_next(request.query_params.get("back"), default="")
    return render(
        request,
        "jobs/status.html",
        {"job": job, "back": back},
        fragment="jobs/_status.html",
    )


routes = [route("/jobs/{job:id}", job_status, access=SIGNED_IN)]
