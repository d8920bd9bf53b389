"""A bare ASGI application for the serving tests: answers every request with its worker's
process id, so a test can tell which worker served a connection. `GET /stall` blocks the
worker's event loop for an hour (as a synchronous call stuck in an `async def` would), so a
test can see what the supervisor does with a worker that is alive but no longer serves.
`GET /client` answers with the client's address as the server understood it."""

from __future__ import annotations

import os
import time
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()  # lifespan.startup
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/stall":
        time.sleep(3600)  # on the event loop, on purpose
    if scope["path"] == "/client":
        body = str(scope["client"][0]).encode()
    else:
        body = str(os.getpid()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})
