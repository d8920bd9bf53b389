"""Migration 0010 (users.canonical_mailbox) backfills existing accounts and goes down and up."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from cocreate.migrate import downgrade, upgrade


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("users")}


def test_migration_0010_backfills_the_canonical_mailbox(engine: Engine) -> None:
    try:
        downgrade(engine, "0007")
        assert "canonical_mailbox" not in _columns(engine)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (email, display_name, is_admin, disabled, created_at, "
                    "session_version) VALUES (:email, 'x', false, false, CURRENT_TIMESTAMP, 0)"
                ),
                [
                    {"email": "Pat.Smith+votes@googlemail.com"},
                    {"email": "ann+x@example.org"},
                    {"email": None},
                ],
            )
    finally:
        upgrade(engine, "head")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT email, canonical_mailbox FROM users ORDER BY id")
        ).all()
    assert [tuple(row) for row in rows] == [
        ("Pat.Smith+votes@googlemail.com", "patsmith@gmail.com"),
        ("ann+x@example.org", "ann@example.org"),
        (None, None),
    ]
    indexes = {i["name"] for i in inspect(engine).get_indexes("users")}
    assert "ix_users_canonical_mailbox" in indexes
