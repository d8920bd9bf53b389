"""rounds.method takes any registered voting method: the CHECK listing four goes

A voting method is a plug-in (`cocreate.voting.methods.registry`): a new one must need no
migration, so the database no longer lists the methods; the round form offers only the
registered ones.

SQLite cannot drop a constraint in place, and copying the table (Alembic's batch mode) would
drop `rounds`, whose implicit DELETE cascades to the ballots, tallies and entrants of every
round while foreign keys are on (and they cannot be turned off inside the migration's
transaction). So SQLite takes the procedure its documentation gives for removing a CHECK
constraint (ALTER TABLE, "making other kinds of table schema changes"): the table's
definition is rewritten in the schema table, the schema version bumped, integrity checked;
no row is touched.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "CONSTRAINT round_method CHECK (method IN ('approval', 'single', 'points', 'ranked'))"
AFTER = "CONSTRAINT round_frequency CHECK (frequency IN ('once', 'daily'))"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("round_method", "rounds", type_="check")
        return
    _rewrite_sqlite(lambda sql: sql.replace(", \n\t" + CHECK, "").replace(CHECK + ", ", ""))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.create_check_constraint(
            "round_method", "rounds", "method IN ('approval', 'single', 'points', 'ranked')"
        )
        return
    _rewrite_sqlite(lambda sql: sql.replace(AFTER, AFTER + ", \n\t" + CHECK, 1))


def _rewrite_sqlite(change: object) -> None:
    connection = op.get_bind()
    sql = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'rounds'"
    ).scalar_one()
    changed = change(sql)  # type: ignore[operator]
    if changed == sql:
        return
    version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    connection.exec_driver_sql("PRAGMA writable_schema = ON")
    connection.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'rounds'", (changed,)
    )
    connection.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    connection.exec_driver_sql("PRAGMA writable_schema = OFF")
    result = connection.exec_driver_sql("PRAGMA integrity_check").scalar_one()
    assert result == "ok", result
