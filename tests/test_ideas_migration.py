"""Migration 0004 (idea look-up terms, keyset gallery indexes) goes down and up again."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from cocreate.migrate import downgrade, upgrade


def _state(engine: Engine) -> tuple[bool, list[str] | None]:
    inspector = inspect(engine)
    indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("ideas")}
    return "idea_terms" in inspector.get_table_names(), indexes.get("ix_ideas_gallery_newest")


def test_migration_0004_downgrades_and_upgrades(engine: Engine) -> None:
    assert _state(engine) == (True, ["campaign_id", "status", "submitted_at", "id"])
    try:
        downgrade(engine, "0004-1")
        assert _state(engine) == (False, ["campaign_id", "status", "submitted_at"])
    finally:
        upgrade(engine, "head")
    assert _state(engine) == (True, ["campaign_id", "status", "submitted_at", "id"])
