"""cocreate.pg_batch on PostgreSQL: statements sent together in libpq's pipeline mode, with
psycopg's types, each prepared once per connection; errors as psycopg raises them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from sqlalchemy.engine import Engine

from cocreate.pg_batch import Names, dollar_form, run_together

ROW = b"SELECT $1::int + 1, $2::timestamptz, $3::jsonb, $4::text, NULL::int"
NOTHING = b"SELECT 1 WHERE false"
INSERT = b"INSERT INTO batch_probe (id) VALUES ($1) RETURNING id"


@pytest.fixture
def driver(engine: Engine) -> Iterator[Any]:
    """A psycopg connection of its own (not the pool's), with a table to write to."""
    if engine.dialect.name != "postgresql":
        pytest.skip("libpq's pipeline mode is PostgreSQL's")
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as connection:
        connection.execute("CREATE TABLE batch_probe (id int PRIMARY KEY)")
        connection.commit()
        try:
            yield connection
        finally:
            connection.rollback()
            connection.execute("DROP TABLE batch_probe")
            connection.commit()


def prepared_on_server(driver: Any) -> set[str]:
    cursor = driver.cursor()  # psycopg's own path: not prepared below five runs
    cursor.execute("SELECT name FROM pg_prepared_statements")
    names = {name for (name,) in cursor.fetchall()}
    driver.commit()  # back outside a transaction, where a batch prepares what is new
    return names


def kept(driver: Any) -> list[int]:
    cursor = driver.cursor()
    cursor.execute("SELECT id FROM batch_probe ORDER BY id")
    ids = [id_ for (id_,) in cursor.fetchall()]
    driver.commit()
    return ids


def test_the_dollar_form_numbers_each_name_once_and_unescapes_percent() -> None:
    assert dollar_form("SELECT %(a)s + %(b)s, %(a)s, '100%%' WHERE x LIKE 'a%%'") == (
        b"SELECT $1 + $2, $1, '100%' WHERE x LIKE 'a%'",
        ("a", "b"),
    )


def test_rows_come_back_as_a_psycopg_cursor_loads_them(driver: Any) -> None:
    at = datetime(2026, 6, 3, 12, 0, 5, 123456, tzinfo=UTC)
    values = [41, at, Jsonb({"k": [1, "é"]}), "héllo"]
    cursor = driver.cursor()
    cursor.execute(
        ROW.replace(b"$1", b"%s").replace(b"$2", b"%s").replace(b"$3", b"%s").replace(b"$4", b"%s"),
        values,
    )
    expected = cursor.fetchone()
    driver.commit()

    rows = run_together(driver, Names(), [(ROW, values), (NOTHING, [])])

    assert rows == [expected, None]
    assert rows[0] == (42, at, {"k": [1, "é"]}, "héllo", None)


def test_a_statement_is_prepared_once_per_connection_and_parameter_types(driver: Any) -> None:
    names = Names()
    plus_one = b"SELECT $1::bigint + 1"
    assert run_together(driver, names, [(plus_one, [1])]) == [(2,)]
    assert run_together(driver, names, [(plus_one, [2])]) == [(3,)]
    assert prepared_on_server(driver) == {"cocreate_1"}
    # An int that needs more bytes is dumped as another type (int8): another statement, as
    # psycopg's own preparing keeps one per types.
    assert run_together(driver, names, [(plus_one, [2**40])]) == [(2**40 + 1,)]
    assert prepared_on_server(driver) == {"cocreate_1", "cocreate_2"}
    assert sorted(names.by_key.values()) == [b"cocreate_1", b"cocreate_2"]


def test_what_a_batch_writes_after_begin_is_kept_only_at_commit(driver: Any) -> None:
    names = Names()
    assert run_together(driver, names, [(INSERT, [1])], begin=True) == [(1,)]
    assert driver.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    driver.rollback()
    assert kept(driver) == []
    assert run_together(driver, names, [(INSERT, [2])], begin=True, commit=True) == [(2,)]
    assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    driver.rollback()
    assert kept(driver) == [2]


def test_a_statement_prepared_in_a_transaction_outlives_its_rollback(driver: Any) -> None:
    names = Names()
    run_together(driver, names, [(INSERT, [1])], begin=True)
    driver.pgconn.exec_(b"ROLLBACK")  # libpq's, not psycopg's (which deallocates its own)
    driver.execute("SELECT 1")  # psycopg begins a transaction
    assert run_together(driver, names, [(NOTHING, [])]) == [None]
    driver.pgconn.exec_(b"ROLLBACK")
    assert prepared_on_server(driver) == {"cocreate_1", "cocreate_2"}
    assert run_together(driver, names, [(INSERT, [3]), (NOTHING, [])]) == [(3,), None]
    assert names.made == 2
    assert kept(driver) == [3]


def test_a_statement_that_fails_to_prepare_is_not_remembered(driver: Any) -> None:
    names = Names()
    with pytest.raises(psycopg.errors.UndefinedTable):  # and the Parse after it is skipped
        run_together(driver, names, [(b"SELECT id FROM no_such_table", []), (b"SELECT 2", [])])
    assert names.by_key == {}
    assert run_together(driver, names, [(b"SELECT 2", [])]) == [(2,)]
    assert list(names.by_key) == [(b"SELECT 2", ())]


def test_the_first_error_is_raised_and_nothing_after_it_runs(driver: Any) -> None:
    names = Names()
    with pytest.raises(psycopg.errors.DivisionByZero):
        run_together(driver, names, [(b"SELECT 1 / $1", [0]), (INSERT, [5])], begin=True)
    assert driver.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    driver.rollback()
    # Without BEGIN the batch is one implicit transaction: the insert before the error goes.
    with pytest.raises(psycopg.errors.UniqueViolation):
        run_together(driver, names, [(INSERT, [6]), (INSERT, [6])])
    assert kept(driver) == []
    assert run_together(driver, names, [(INSERT, [7])]) == [(7,)]
    assert kept(driver) == [7]


def test_a_value_psycopg_cannot_adapt_fails_before_anything_is_sent(driver: Any) -> None:
    with pytest.raises(psycopg.ProgrammingError):
        run_together(driver, Names(), [(INSERT, [8]), (ROW, [object(), None, None, None])])
    assert driver.pgconn.pipeline_status == 0
    assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert kept(driver) == []


def test_statements_deallocated_behind_its_back_are_prepared_again(driver: Any) -> None:
    names = Names()
    run_together(driver, names, [(INSERT, [9]), (NOTHING, [])], begin=True, commit=True)
    driver.execute("DEALLOCATE ALL")  # as psycopg's rollback() does when it prepared its own
    driver.commit()
    assert run_together(driver, names, [(INSERT, [10]), (NOTHING, [])], begin=True) == [
        (10,),
        None,
    ]
    driver.commit()
    assert kept(driver) == [9, 10]
    assert len(prepared_on_server(driver)) == 2


def test_deallocated_statements_inside_an_open_transaction_raise(driver: Any) -> None:
    names = Names()
    run_together(driver, names, [(INSERT, [11])])
    driver.execute("DEALLOCATE ALL")  # and psycopg's transaction is open
    with pytest.raises(psycopg.errors.InvalidSqlStatementName):
        run_together(driver, names, [(INSERT, [12])])
    assert names.by_key == {}  # prepared again next time
    driver.rollback()
    assert run_together(driver, names, [(INSERT, [12])]) == [(12,)]
