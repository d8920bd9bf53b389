"""Brand administration (admin creates brands; owners invite members with a role)."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
