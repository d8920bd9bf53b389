"""ideas.vote_count: one update of the idea per change of its tally

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 09:30:00

The triggers of 0012 moved a changed tally's votes off the old idea and onto the new one as
two updates, even when the idea was the same, which it is for every vote, withdrawal and
recount: two new versions of the idea's row per vote, each with an entry in every one of the
ideas' indexes (`vote_count` is indexed, so neither update is HOT). A tally that stays on its
idea now changes the idea's count once, by the difference; a tally moved to another idea
(a merge fix-up) still takes its votes off one and puts them on the other.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0012's function, and this migration's: the same but for the first branch, a tally that
# stays on its idea.
FUNCTION = """
CREATE OR REPLACE FUNCTION idea_tallies_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{same_idea}    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.votes <> 0 THEN
        UPDATE ideas SET vote_count = vote_count - OLD.votes WHERE id = OLD.idea_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.votes <> 0 THEN
        UPDATE ideas SET vote_count = vote_count + NEW.votes WHERE id = NEW.idea_id;
    END IF;
    RETURN NULL;
END
$$
"""
SAME_IDEA = """    IF TG_OP = 'UPDATE' AND NEW.idea_id = OLD.idea_id THEN
        UPDATE ideas SET vote_count = vote_count + (NEW.votes - OLD.votes) WHERE id = NEW.idea_id;
        RETURN NULL;
    END IF;
"""
POSTGRESQL_FUNCTION = FUNCTION.format(same_idea=SAME_IDEA)
POSTGRESQL_FUNCTION_0012 = FUNCTION.format(same_idea="")

# SQLite's trigger bodies have no IF: 0012's update trigger becomes two, told apart by WHEN.
SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER idea_tallies_count_update AFTER UPDATE OF votes, idea_id ON idea_tallies
    WHEN NEW.idea_id = OLD.idea_id AND NEW.votes <> OLD.votes
    BEGIN
        UPDATE ideas SET vote_count = vote_count + (NEW.votes - OLD.votes) WHERE id = NEW.idea_id;
    END
    """,
    """
    CREATE TRIGGER idea_tallies_count_move AFTER UPDATE OF idea_id ON idea_tallies
    WHEN NEW.idea_id <> OLD.idea_id
    BEGIN
        UPDATE ideas SET vote_count = vote_count - OLD.votes WHERE id = OLD.idea_id;
        UPDATE ideas SET vote_count = vote_count + NEW.votes WHERE id = NEW.idea_id;
    END
    """,
]

SQLITE_TRIGGER_0012 = """
CREATE TRIGGER idea_tallies_count_update AFTER UPDATE OF votes, idea_id ON idea_tallies
WHEN NEW.votes <> OLD.votes OR NEW.idea_id <> OLD.idea_id
BEGIN
    UPDATE ideas SET vote_count = vote_count - OLD.votes WHERE id = OLD.idea_id;
    UPDATE ideas SET vote_count = vote_count + NEW.votes WHERE id = NEW.idea_id;
END
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        return
    op.execute("DROP TRIGGER idea_tallies_count_update")
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION_0012)
        return
    op.execute("DROP TRIGGER idea_tallies_count_move")
    op.execute("DROP TRIGGER idea_tallies_count_update")
    op.execute(SQLITE_TRIGGER_0012)
