from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cocreate.security.access import PUBLIC, route


async def healthz(request: Request) -> Response:
    """The process is up."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers; a load balancer sends traffic only when this is 200."""
    try:
        request.app.state.db.ping()
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


routes = [
    route("/healthz", healthz, access=PUBLIC),
    route("/readyz", readyz, access=PUBLIC),
]
