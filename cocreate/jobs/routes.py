"""A job's progress: a small fragment the page that started the job polls (htmx), or a page
of its own with a refresh link where there is no script."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.jobs import store
from cocreate.jobs.models import Job
from cocreate.security.access import SIGNED_IN, current_user, db, route
from cocreate.security.permissions import STAFF, has_role_in_brand
from cocreate.security.redirects import safe_next
from cocreate.web import render


def may_see(request: Request, job: Job) -> bool:
    """The person who started the job, the staff of its brand, administrators."""
    user = current_user(request)
    if user is None:
        return False
    if user.is_admin or (job.requested_by_id is not None and job.requested_by_id == user.id):
        return True
    return job.brand_id is not None and has_role_in_brand(
        session=db(request), user=user, brand_id=job.brand_id, roles=STAFF
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
