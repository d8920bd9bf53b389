"""Statements sent to PostgreSQL in one write and answered in one read: libpq's pipeline mode
driven directly, under psycopg's types.

psycopg's own pipeline flushes after each statement it queues, and polls the socket before
each flush: the vote's first round trip (two reads) went out as four writes (each statement,
Sync, Flush) and six polls, and each write on loopback wakes the server for a part of the
batch. Here every message (BEGIN, a Parse for a statement new to the connection, each
Bind/Execute, COMMIT, Sync) is queued, then flushed together. Parameters are dumped and
rows loaded by psycopg's Transformer, with the connection's adapters, exactly as a psycopg
cursor does; statements are prepared once per connection and parameter types, as psycopg's
`prepare=True` would, under names of their own (`cocreate_N`).
"""

from __future__ import annotations

import re
import select
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import errors
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import ExecStatus


@dataclass
class Names:
    """The statements prepared on one connection: each one's name, by its SQL and its
    parameters' types. Names are never used twice on a connection."""

    by_key: dict[tuple[bytes, tuple[int, ...]], bytes] = field(default_factory=dict)
    made: int = 0

    def new(self) -> bytes:
        self.made += 1
        return b"cocreate_%d" % self.made


_PYFORMAT = re.compile(r"%\(([^)]+)\)s|%%")
_DONE = (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK, ExecStatus.EMPTY_QUERY)
_IDLE = 0  # libpq's PQTRANS_IDLE: no transaction open


def dollar_form(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """A psycopg (pyformat) statement as PostgreSQL's protocol takes it: `$n` placeholders,
    with the parameters' names in their numbers' order (a name used twice is one number)."""
    numbers: dict[str, int] = {}

    def placeholder(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "%"
        return f"${numbers.setdefault(match.group(1), len(numbers) + 1)}"

    return _PYFORMAT.sub(placeholder, sql).encode(), tuple(numbers)


def outside_transaction(driver: Any) -> bool:
    """No transaction is open on the psycopg connection (libpq's own account of it)."""
    return bool(driver.pgconn.transaction_status == _IDLE)


def run_together(
    driver: Any,
    names: Names,
    statements: Sequence[tuple[bytes, Sequence[Any]]],
    begin: bool = False,
    commit: bool = False,
) -> list[tuple[Any, ...] | None]:
    """Run each statement (in `dollar_form`, with its values in order) on the psycopg
    connection `driver`, after BEGIN and before COMMIT when asked, in one round trip: the
    first row of each, as psycopg loads it, or None. The first error is raised as psycopg
    raises it, once the server has answered the whole batch (the statements after a failed
    one are skipped, and a transaction it began is left failed, for a rollback). If the
    connection fails midway, psycopg's OperationalError is raised and the connection is left
    broken.

    `names` holds the statements already prepared on this connection; a statement new to it
    is prepared in the same batch, and added once the server has accepted it (a prepared
    statement outlives the transaction it was prepared in, even rolled back). One can still
    vanish: psycopg's `rollback()` deallocates every statement of the connection when it
    had prepared some of its own. A batch that began outside a transaction then runs again,
    once, preparing afresh: nothing of it was kept, as its first statement failed.
    """
    idle = outside_transaction(driver)
    try:
        return _run_together(driver, names, statements, begin=begin, commit=commit)
    except errors.InvalidSqlStatementName:
        names.by_key.clear()
        if not idle:
            raise  # the transaction's earlier work is lost with it
        if not outside_transaction(driver):
            driver.rollback()  # the batch's own BEGIN, failed
        return _run_together(driver, names, statements, begin=begin, commit=commit)


def _run_together(
    driver: Any,
    names: Names,
    statements: Sequence[tuple[bytes, Sequence[Any]]],
    *,
    begin: bool,
    commit: bool,
) -> list[tuple[Any, ...] | None]:
    transformer = Transformer.from_context(driver)
    # Values are dumped first: one psycopg cannot adapt fails before anything is queued.
    calls: list[tuple[bytes, Sequence[Any], Sequence[int]]] = []
    new: dict[tuple[bytes, tuple[int, ...]], bytes] = {}
    for sql, values in statements:
        dumped = transformer.dump_sequence(values, [PyFormat.AUTO] * len(values))
        types = tuple(transformer.types or ())
        key = (sql, types)
        name = names.by_key.get(key) or new.get(key)
        if name is None:
            name = new[key] = names.new()
        calls.append((name, dumped, tuple(transformer.formats or ())))

    pgconn = driver.pgconn
    pgconn.enter_pipeline_mode()
    for (sql, types), name in new.items():
        pgconn.send_prepare(name, sql, param_types=types)
    if begin:
        pgconn.send_query_params(b"BEGIN", None)
    for name, dumped, param_formats in calls:
        pgconn.send_query_prepared(name, dumped, param_formats=param_formats)
    if commit:
        pgconn.send_query_params(b"COMMIT", None)
    pgconn.pipeline_sync()
    _flush(pgconn)
    results = _results(pgconn)
    pgconn.exit_pipeline_mode()

    prepares, results = results[: len(new)], results[len(new) :]
    for (key, name), prepare in zip(new.items(), prepares, strict=True):
        if prepare.status == ExecStatus.COMMAND_OK:
            names.by_key[key] = name
    for result in prepares + results:
        if result.status in _DONE or result.status == ExecStatus.PIPELINE_ABORTED:
            continue  # a skipped message: the error that aborted the batch comes first
        raise errors.error_from_result(result, encoding=driver.info.encoding)
    rows: list[tuple[Any, ...] | None] = []
    for result in results[int(begin) : int(begin) + len(calls)]:
        if result.ntuples:
            transformer.set_pgresult(result)
            rows.append(transformer.load_row(0, tuple))
        else:
            rows.append(None)
    return rows


def _flush(pgconn: Any) -> None:
    while pgconn.flush():  # 1: more to send once the socket takes it
        _wait(pgconn.socket, select.POLLOUT)


def _results(pgconn: Any) -> list[Any]:
    """Every result up to the batch's Sync (one per message sent, in order)."""
    results: list[Any] = []
    while True:
        while pgconn.is_busy():
            _wait(pgconn.socket, select.POLLIN)
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            continue  # the end of one message's results
        if result.status == ExecStatus.PIPELINE_SYNC:
            return results
        results.append(result)


def _wait(fileno: int, events: int) -> None:
    poll = select.poll()
    poll.register(fileno, events | select.POLLERR)
    while not poll.poll():
        pass
