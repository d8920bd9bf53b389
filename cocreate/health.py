"""Health checks for supervisors and load balancers.

`/healthz` is answered by the event loop alone: no session cookie read, no thread, no
database. If it answers, the worker's loop turns; if the loop is stuck, it does not, and the
supervisor replaces the worker. `/readyz` says whether the worker can take more traffic: the
database answers and the request threads and the connection pool are not saturated.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cocreate.concurrency import Busy, RequestThreads
from cocreate.security.access import PUBLIC, loop_route


async def healthz(request: Request) -> Response:
    """The process is up and its event loop turns."""
    return JSONResponse({"status": "ok"})


def _pool(request: Request) -> dict[str, Any]:
    pool = request.app.state.db.engine.pool
    found: dict[str, Any] = {"pool": type(pool).__name__}
    for name in ("size", "checkedout", "overflow"):  # QueuePool's; other pools lack some
        method = getattr(pool, name, None)
        if callable(method):
            found[name] = method()
    return found


async def readyz(request: Request) -> Response:
    """Ready for traffic: 200, or 503 while the database is unreachable or every request
    thread is taken with requests waiting (a load balancer then sends traffic elsewhere)."""
    threads: RequestThreads = request.app.state.threads
    report: dict[str, Any] = {
        "threads": {"size": threads.size, "busy": threads.busy(), "waiting": threads.waiting()},
        "connections": _pool(request),
    }
    if threads.busy() >= threads.size:  # no thread to ping with: say so at once
        return JSONResponse({"status": "saturated", **report}, 503)
    try:
        await threads.run(request.app.state.db.ping)
    except Busy:
        return JSONResponse({"status": "saturated", **report}, 503)
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable", "database": "unreachable", **report}, 503)
    return JSONResponse({"status": "ok", "database": "ok", **report})


routes = [
    loop_route("/healthz", healthz, access=PUBLIC),
    loop_route("/readyz", readyz, access=PUBLIC),
]
