"""The request model's bounds: request threads, CPU slots, and who holds a connection."""

from __future__ import annotations

import threading
import time

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from cocreate.concurrency import Busy, RequestThreads, Slots, holds_connection
from tests.conftest import run_async


def test_a_request_waits_for_a_thread_then_is_busy() -> None:
    threads = RequestThreads(size=1, wait=0.2)
    release = threading.Event()
    outcomes: list[object] = []

    async def main() -> None:
        async def hold() -> None:
            outcomes.append(await threads.run(lambda: release.wait(5)))

        async with anyio.create_task_group() as group:
            group.start_soon(hold)
            await anyio.sleep(0.05)
            assert threads.busy() == 1
            started = time.monotonic()
            with pytest.raises(Busy):
                await threads.run(lambda: "never")
            waited = time.monotonic() - started
            assert 0.15 < waited < 1.5
            release.set()
        assert await threads.run(lambda: "after") == "after"

    run_async(main())
    assert outcomes == [True]


def test_waiting_requests_get_a_thread_as_one_frees() -> None:
    threads = RequestThreads(size=2, wait=5)
    running = 0
    most = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(threads.run, work)

    run_async(main())
    assert most == 2


def test_a_slot_is_busy_after_its_wait() -> None:
    slots = Slots("test work", size=1, wait=0.1)
    with slots():
        started = time.monotonic()
        failed: list[BaseException] = []

        def other() -> None:
            try:
                with slots():
                    pass
            except Busy as exc:
                failed.append(exc)

        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
        assert len(failed) == 1 and failed[0].what == "test work"
        assert time.monotonic() - started >= 0.1
    with slots():  # free again
        pass


def test_a_slot_refuses_a_thread_that_holds_a_connection(engine: Engine) -> None:
    slots = Slots("test work", size=1, wait=0.1)
    assert not holds_connection()
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        assert holds_connection()
        with pytest.raises(RuntimeError, match="holding a database connection"):
            with slots():
                pass
    assert not holds_connection()
    with slots():
        pass


def test_connections_are_counted_per_thread(engine: Engine) -> None:
    seen: list[bool] = []
    with engine.connect():
        worker = threading.Thread(target=lambda: seen.append(holds_connection()))
        worker.start()
        worker.join()
        assert holds_connection()
    assert seen == [False]


def test_costly_requests_wait_for_a_place_on_the_loop_then_are_busy() -> None:
    threads = RequestThreads(size=8, wait=0.2, costly=1)
    release = threading.Event()

    async def main() -> None:
        async def hold() -> None:
            async with threads.costly():
                await threads.run(lambda: release.wait(5))

        async with anyio.create_task_group() as group:
            group.start_soon(hold)
            await anyio.sleep(0.05)
            with pytest.raises(Busy):
                async with threads.costly():
                    pass
            # Pages keep their threads meanwhile.
            assert await threads.run(lambda: "page") == "page"
            release.set()
        async with threads.costly():
            pass

    run_async(main())
