"""The ceiling of the vote benchmark: a bare Starlette endpoint doing one INSERT.

No middleware, no session, no template: one short write transaction into the benchmark's
own database, through the same engine set-up as the platform (cocreate.db.make_engine: WAL
and synchronous=NORMAL on SQLite, the same pool on PostgreSQL). The insert is idempotent by
key, like a vote, so that the drain phase of the load script stores nothing new.
"""

from __future__ import annotations

import os

from sqlalchemy import BigInteger, Column, MetaData, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from cocreate.db import make_engine

metadata = MetaData()
bench_inserts = Table("bench_inserts", metadata, Column("key", BigInteger, primary_key=True))

engine = make_engine(os.environ.get("COCREATE_DATABASE_URL", "sqlite:///data/bench.db"))
_insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert


async def insert(request: Request) -> Response:
    # Blocking inside `async def`, as the platform's handlers do (measured faster on SQLite
    # than a thread pool hop).
    statement = _insert(bench_inserts).values(key=request.path_params["key"])
    with engine.begin() as connection:
        stored = connection.execute(statement.on_conflict_do_nothing()).rowcount
    return PlainTextResponse("inserted" if stored == 1 else "exists")


async def ready(request: Request) -> Response:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/insert/{key:int}", insert, methods=["POST"]),
        Route("/readyz", ready),
    ]
)
