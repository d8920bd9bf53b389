"""Serving the application with several uvicorn worker processes, one listening socket each.

uvicorn's own `--workers` shares one listening socket among the workers, and asyncio accepts
every connection waiting on it at once: whichever worker wakes first takes a whole burst.
Clients that keep their connections open (a reverse proxy's upstream keep-alive pool, a load
generator) stay where they landed, so one worker can hold three connections for every one of
the other's, and its requests wait three times as long while the other worker idles.

On Linux each worker here gets a socket of its own, all bound to the same address with
SO_REUSEPORT, and the kernel spreads new connections over them by a hash of the client's
address and port. The parent binds and keeps the sockets, so a connection that arrives while
a worker is being replaced waits in that worker's queue instead of being refused. Elsewhere
(no SO_REUSEPORT, or one that does not balance) uvicorn's shared socket is used as before.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Process

logger = logging.getLogger("uvicorn.error")

EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def balances_by_reuseport() -> bool:
    """Linux spreads connections over SO_REUSEPORT sockets; BSD and macOS give them to one."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def serve(app: str, *, host: str, port: int, workers: int, **options: object) -> None:
    """Serve `app` ("module:attribute") with uvicorn, `workers` processes, each with a socket
    of its own where the kernel can balance them (the module docstring says why)."""
    if workers <= 1 or not balances_by_reuseport():
        uvicorn.run(app, host=host, port=port, workers=workers, **options)  # type: ignore[arg-type]
        return
    config = Config(app, host=host, port=port, workers=workers, **options)  # type: ignore[arg-type]
    sockets = bind_reuseport_sockets(host, port, workers, backlog=config.backlog)
    logger.info(
        "Uvicorn running on http://%s:%d with %d workers, one SO_REUSEPORT socket each",
        host,
        sockets[0].getsockname()[1],
        workers,
    )
    try:
        Supervisor(config, sockets).run()
    finally:
        for sock in sockets:
            sock.close()


def bind_reuseport_sockets(
    host: str, port: int, count: int, *, backlog: int
) -> list[socket.socket]:
    """`count` sockets bound to one address (port 0 picks a free port for all of them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off only on connections whose
            # listening socket says TCP, and uvicorn writes a response's head and body apart,
            # so with Nagle on each kept-alive answer waited ~40 ms for the client's delayed ACK.
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets.append(sock)
            # Linux also hands TCP_NODELAY down from the listening socket to accepted ones.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            # Listening now, before its worker starts, keeps it in the kernel's group: a
            # connection made while a worker starts waits for it instead of crowding the others.
            sock.listen(backlog)
            port = sock.getsockname()[1]
            sock.set_inheritable(True)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        logger.error(exc)
        sys.exit(STARTUP_FAILURE)
    return sockets


class Supervisor:
    """Starts one uvicorn worker per socket, replaces a worker that dies or stops answering
    (on the same socket), and stops them all on SIGINT or SIGTERM."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.processes: list[Process] = []
        self.should_exit = threading.Event()

    def run(self) -> None:
        for sig in EXIT_SIGNALS:
            signal.signal(sig, self._exit)
        self.processes = [self._start(sock) for sock in self.sockets]
        while not self.should_exit.wait(0.5):
            self._replace_dead_workers()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join()

    def _exit(self, signum: int, frame: FrameType | None) -> None:
        logger.info("Received %s, exiting.", signal.Signals(signum).name)
        self.should_exit.set()

    def _start(self, sock: socket.socket) -> Process:
        process = Process(self.config, [sock])
        process.start()
        return process

    def _replace_dead_workers(self) -> None:
        for index, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # it may be hung rather than dead
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # The application or its configuration is broken: every restart would fail.
                logger.error("Worker [%s] failed to start, stopping.", process.pid)
                self.should_exit.set()
                return
            logger.info("Worker [%s] died, starting another", process.pid)
            self.processes[index] = self._start(self.sockets[index])
