"""`/favicon.ico`: browsers ask for it at the site's root whatever the page links to."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from cocreate.security.access import PUBLIC, loop_route
from cocreate.web import STATIC_DIR

ICON = STATIC_DIR / "favicon.ico"


async def favicon(request: Request) -> Response:
    """The site's icon (pages link the SVG one in static/; old browsers and crawlers ask
    here). Answered by the loop: no session, no database; the file is read off the loop."""
    return FileResponse(
        ICON,
        media_type="image/vnd.microsoft.icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


routes = [loop_route("/favicon.ico", favicon, access=PUBLIC)]
