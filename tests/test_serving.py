"""`cocreate serve --workers N` (gunicorn's arbiter with uvicorn workers): each worker has a
listening socket of its own (SO_REUSEPORT), so connections that stay open are spread over the
workers instead of piling onto whichever worker woke first; kept-alive answers are not held
back by Nagle's algorithm; a worker that dies, or whose event loop is stuck, is replaced;
SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from cocreate.serving import balances_by_reuseport
from tests.conftest import free_port
from tests.processes import running

pytestmark = pytest.mark.skipif(
    not balances_by_reuseport(), reason="SO_REUSEPORT balancing is Linux's; elsewhere one socket"
)

WORKERS = 2
BURST = 64
WORKER_TIMEOUT = 3  # seconds; `cocreate serve --worker-timeout`


@contextmanager
def serve_pid_app(
    port: int,
    tmp_path: Path,
    *options: str,
    trusted_proxies: str | None = None,
    workers: int = WORKERS,
) -> Iterator[subprocess.Popen[bytes]]:
    """`cocreate serve --workers 2` (or `workers`) on tests/pid_app.py, once every worker
    listens (each binds its socket as it starts, so the first answer does not mean they all
    do)."""
    command = [
        sys.executable,
        "-m",
        "cocreate",
        "serve",
        "--app",
        "tests.pid_app:app",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        *options,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCREATE_")}
    env["COCREATE_SECRET_KEY"] = "serving-tests-secret-key-" + "s" * 32
    if trusted_proxies is not None:
        env["COCREATE_TRUSTED_PROXIES"] = trusted_proxies
    log_path = tmp_path / "server.log"
    with running(
        command, env=env, ready_url=f"http://127.0.0.1:{port}/", log_path=log_path
    ) as process:
        deadline = time.monotonic() + 30
        while listening_sockets(port) < workers:
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.05)
        yield process


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def server(port: int, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with serve_pid_app(port, tmp_path) as process:
        yield process


def worker_pid(connection: socket.socket) -> int:
    """Send one request on a kept-alive connection; the answer is the serving worker's pid."""
    connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.split(b"\r\n\r\n", 1)[1]:
        chunk = connection.recv(4096)
        assert chunk, f"connection closed after {answer!r}"
        answer += chunk
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    return int(body)


def answering_worker(port: int, *, timeout: float) -> int | None:
    """The pid of the worker that answers a new connection, or None when none answers within
    `timeout` (the kernel queued the connection for a worker that does not serve)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            return worker_pid(connection)
    except (TimeoutError, ConnectionError):
        return None


def workers_serving(port: int, count: int) -> Counter[int]:
    """Open `count` connections at once and keep them while each asks who serves it: how many
    of them each worker (by pid) holds."""
    connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    try:
        return Counter(worker_pid(connection) for connection in connections)
    finally:
        for connection in connections:
            connection.close()


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1:`port` (from /proc/net/tcp; 0A is LISTEN)."""
    wanted = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == wanted and line.split()[3] == "0A")


def test_each_worker_listens_on_a_socket_of_its_own(
    server: subprocess.Popen[bytes], port: int
) -> None:
    assert listening_sockets(port) == WORKERS


def test_connections_opened_at_once_are_spread_over_the_workers(
    server: subprocess.Popen[bytes], port: int
) -> None:
    # As a reverse proxy's keep-alive pool or a load generator does: open them all, keep them.
    per_worker = workers_serving(port, BURST)
    assert len(per_worker) == WORKERS, per_worker
    # The kernel hashes each connection to a worker: with 64 connections and 2 workers, a
    # worker gets fewer than 16 with a chance of 2.4e-5. uvicorn's shared socket often gives
    # one worker 50 or all 64 of them.
    assert min(per_worker.values()) >= BURST // 4, per_worker


def test_kept_alive_answers_are_not_held_back(server: subprocess.Popen[bytes], port: int) -> None:
    # uvicorn writes a response's head and its body apart: with Nagle's algorithm on the
    # connection, the body waits for the client to acknowledge the head, which a client
    # delays by 40 ms. Every kept-alive answer then takes ~40 ms instead of well under 1 ms.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        worker_pid(connection)
        times = []
        for _ in range(25):
            start = time.perf_counter()
            worker_pid(connection)
            times.append(time.perf_counter() - start)
    # The median is robust to a busy machine's occasional slow answer.
    assert statistics.median(times) < 0.015, [f"{t * 1000:.1f} ms" for t in times]


def test_a_worker_that_dies_is_replaced(server: subprocess.Popen[bytes], port: int) -> None:
    first = workers_serving(port, 16)
    killed = min(first)
    os.kill(killed, signal.SIGKILL)

    # Its socket dies with it: a connection the kernel had queued there is reset (unless the
    # host sets net.ipv4.tcp_migrate_req, docs/operations.md); new ones go to the other
    # worker until the replacement listens.
    answered_by: set[int] = set()
    deadline = time.monotonic() + 30
    while len(answered_by - {killed}) < WORKERS and time.monotonic() < deadline:
        pid = answering_worker(port, timeout=2)
        if pid is not None:
            answered_by.add(pid)
            time.sleep(0.02)
    assert killed not in answered_by
    assert len(answered_by) == WORKERS, answered_by
    assert listening_sockets(port) == WORKERS


def test_sigterm_stops_every_worker(port: int, tmp_path: Path) -> None:
    with serve_pid_app(port, tmp_path) as process:
        workers = set(workers_serving(port, 16))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived the server"
    assert listening_sockets(port) == 0


def test_a_worker_whose_event_loop_is_stuck_is_replaced(port: int, tmp_path: Path) -> None:
    with serve_pid_app(port, tmp_path, "--worker-timeout", str(WORKER_TIMEOUT)):
        deadline = time.monotonic() + 30
        workers: set[int] = set()
        while len(workers) < WORKERS and time.monotonic() < deadline:
            workers |= set(workers_serving(port, 16))
        assert len(workers) == WORKERS, workers

        # The process stays alive and would answer a ping from another thread; its loop is
        # blocked in a synchronous call, so it serves nothing.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as stalled:
            stuck = worker_pid(stalled)
            (other,) = workers - {stuck}
            stalled.sendall(b"GET /stall HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            stalled_at = time.monotonic()

            answered_by: Counter[int] = Counter()
            replacements: set[int] = set()
            deadline = stalled_at + WORKER_TIMEOUT + 15
            while not replacements and time.monotonic() < deadline:
                pid = answering_worker(port, timeout=0.5)
                if pid is not None:
                    answered_by[pid] += 1
                    replacements = set(answered_by) - workers
                    time.sleep(0.05)  # pace the probes: a busy loop would slow the supervisor
            replaced_after = time.monotonic() - stalled_at

        assert replacements, f"no new worker {replaced_after:.0f} s after {stuck} got stuck"
        assert stuck not in answered_by
        assert answered_by[other] > 0, f"the healthy worker {other} stopped answering"
        # A few seconds past the timeout: the supervisor looks about once a second.
        assert replaced_after < WORKER_TIMEOUT + 10, replaced_after
        # The stuck process is gone, and the healthy one still serves (it was not restarted).
        while Path(f"/proc/{stuck}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{stuck}").exists(), f"stuck worker {stuck} still runs"
        serving: set[int] = set()
        while serving != {other, *replacements} and time.monotonic() < deadline + 15:
            serving |= set(workers_serving(port, 16))
        assert serving == {other, *replacements}, serving


def test_a_single_worker_whose_event_loop_is_stuck_is_replaced(port: int, tmp_path: Path) -> None:
    # `cocreate serve` with its default single worker is supervised too: the arbiter starts a
    # new worker, and the site answers again, a few seconds after the only loop got stuck.
    with serve_pid_app(port, tmp_path, "--worker-timeout", str(WORKER_TIMEOUT), workers=1):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as stalled:
            stuck = worker_pid(stalled)
            stalled.sendall(b"GET /stall HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            stalled_at = time.monotonic()
            answered = None
            deadline = stalled_at + WORKER_TIMEOUT + 15
            while answered is None and time.monotonic() < deadline:
                answered = answering_worker(port, timeout=0.5)
                time.sleep(0.05)
            replaced_after = time.monotonic() - stalled_at
        assert answered is not None, f"nothing answered {replaced_after:.0f} s after the stall"
        assert answered != stuck
        assert replaced_after < WORKER_TIMEOUT + 10, replaced_after
        while Path(f"/proc/{stuck}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{stuck}").exists(), f"stuck worker {stuck} still runs"


@pytest.mark.parametrize(
    ("trusted_proxies", "client"), [(None, "127.0.0.1"), ("127.0.0.1", "203.0.113.7")]
)
def test_workers_believe_x_forwarded_for_only_from_trusted_proxies(
    port: int, tmp_path: Path, trusted_proxies: str | None, client: str
) -> None:
    # The per-IP limits count the address a trusted proxy forwards, and only that proxy's.
    with serve_pid_app(port, tmp_path, trusted_proxies=trusted_proxies):
        for _ in range(8):  # new connections: both workers answer some
            answer = httpx2.get(
                f"http://127.0.0.1:{port}/client", headers={"x-forwarded-for": "203.0.113.7"}
            )
            assert answer.text == client
