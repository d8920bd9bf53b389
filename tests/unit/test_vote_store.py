"""The vote store owns its tables: no module outside `cocreate/voting/store/` writes votes,
ballots or idea tallies (fraud review, moderation's merges and results call the store's
operations instead)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "cocreate"
STORE = PACKAGE / "voting" / "store"

TABLE_NAMES = {"VOTES", "BALLOTS", "TALLIES", "Vote", "Ballot", "IdeaTally"}
WRITERS = {"update", "insert", "delete", "pg_insert", "sqlite_insert"}
SQL_WRITE = re.compile(
    r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(votes|ballots|idea_tallies)\b", re.IGNORECASE
)


def _names_a_table(node: ast.expr) -> bool:
    text = ast.unparse(node)
    return text in TABLE_NAMES or any(text == f"{name}.__table__" for name in TABLE_NAMES)


def writes_of(source: str) -> list[str]:
    """Where `source` writes one of the store's tables: `update(VOTES)`, `insert(Vote)`,
    `VOTES.update()`, `Vote(...)` (an ORM row to add), or SQL text that does."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in WRITERS and node.args:
                if _names_a_table(node.args[0]):
                    found.append(f"{node.lineno}: {ast.unparse(node)[:60]}")
            elif isinstance(func, ast.Attribute) and func.attr in ("update", "insert", "delete"):
                if _names_a_table(func.value):
                    found.append(f"{node.lineno}: {ast.unparse(node)[:60]}")
            elif isinstance(func, ast.Name) and func.id in ("Vote", "Ballot", "IdeaTally"):
                found.append(f"{node.lineno}: {ast.unparse(node)[:60]}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if SQL_WRITE.search(node.value):
                found.append(f"{node.lineno}: {node.value.strip()[:60]!r}")
    return found


@pytest.mark.parametrize(
    "source",
    [
        "update(VOTES).values(status='void')",
        "session.execute(insert(Ballot), rows)",
        "VOTES.update().where(x)",
        "session.add(Vote(round_id=1))",
        "text('UPDATE votes SET status = :s')",
        "pg_insert(IdeaTally.__table__)",
    ],
)
def test_the_check_sees_a_write(source: str) -> None:
    assert writes_of(source), source


def test_reads_are_not_writes() -> None:
    assert writes_of("select(VOTES.c.id).where(VOTES.c.round_id == 1)") == []
    assert writes_of("update(CASES).values(status='voided')") == []


def test_only_the_store_writes_votes_ballots_and_tallies() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if STORE in path.parents:
            continue
        found = writes_of(path.read_text())
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}, "write through cocreate.voting.store instead"


def test_the_store_is_where_the_writes_are() -> None:
    """The check above would pass with nothing to find: the store itself is seen writing."""
    found = [line for path in STORE.rglob("*.py") for line in writes_of(path.read_text())]
    assert len(found) >= 10
