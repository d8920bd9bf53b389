"""ideas.vote_count follows idea_tallies

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-23 22:35:00

`ideas.vote_count` (the gallery's "most voted" order, indexed with it) is the idea's counted
votes over every round: the sum of its `idea_tallies.votes`. Triggers on idea_tallies keep it
in step with every change of a tally, whoever makes it (a vote, a withdrawal, a ranked
ballot, a held vote counted or a vote voided later), in the same transaction, and cost no
round trip. The existing counts are recomputed from the tallies.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
UPDATE ideas SET vote_count = COALESCE(
    (SELECT SUM(idea_tallies.votes) FROM idea_tallies WHERE idea_tallies.idea_id = ideas.id), 0)
"""

SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER idea_tallies_count_insert AFTER INSERT ON idea_tallies
    WHEN NEW.votes <> 0
    BEGIN
        UPDATE ideas SET vote_count = vote_count + NEW.votes WHERE id = NEW.idea_id;
    END
    """,
    """
    CREATE TRIGGER idea_tallies_count_update AFTER UPDATE OF votes, idea_id ON idea_tallies
    WHEN NEW.votes <> OLD.votes OR NEW.idea_id <> OLD.idea_id
    BEGIN
        UPDATE ideas SET vote_count = vote_count - OLD.votes WHERE id = OLD.idea_id;
        UPDATE ideas SET vote_count = vote_count + NEW.votes WHERE id = NEW.idea_id;
    END
    """,
    """
    CREATE TRIGGER idea_tallies_count_delete AFTER DELETE ON idea_tallies
    WHEN OLD.votes <> 0
    BEGIN
        UPDATE ideas SET vote_count = vote_count - OLD.votes WHERE id = OLD.idea_id;
    END
    """,
]

POSTGRESQL_FUNCTION = """
CREATE FUNCTION idea_tallies_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.votes <> 0 THEN
        UPDATE ideas SET vote_count = vote_count - OLD.votes WHERE id = OLD.idea_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.votes <> 0 THEN
        UPDATE ideas SET vote_count = vote_count + NEW.votes WHERE id = NEW.idea_id;
    END IF;
    RETURN NULL;
END
$$
"""

POSTGRESQL_TRIGGERS = [
    """
    CREATE TRIGGER idea_tallies_count_insert AFTER INSERT ON idea_tallies
    FOR EACH ROW WHEN (NEW.votes <> 0) EXECUTE FUNCTION idea_tallies_count()
    """,
    """
    CREATE TRIGGER idea_tallies_count_update AFTER UPDATE OF votes, idea_id ON idea_tallies
    FOR EACH ROW WHEN (NEW.votes <> OLD.votes OR NEW.idea_id <> OLD.idea_id)
    EXECUTE FUNCTION idea_tallies_count()
    """,
    """
    CREATE TRIGGER idea_tallies_count_delete AFTER DELETE ON idea_tallies
    FOR EACH ROW WHEN (OLD.votes <> 0) EXECUTE FUNCTION idea_tallies_count()
    """,
]

TRIGGERS = ("idea_tallies_count_insert", "idea_tallies_count_update", "idea_tallies_count_delete")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        for statement in POSTGRESQL_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    op.execute(BACKFILL)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON idea_tallies" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS idea_tallies_count()")
