"""Serving the application: gunicorn's arbiter with uvicorn's worker (uvicorn alone on
Windows, where gunicorn does not run).

`cocreate serve --workers N` runs gunicorn's arbiter with N `uvicorn_worker` workers, one
included: a single worker needs a supervisor as much as several do.
The arbiter replaces a worker that dies, and one whose event loop is stuck: uvicorn calls the
worker's heartbeat from its loop (every half timeout), so a worker blocked in a synchronous
call stops beating and is killed after `worker_timeout` seconds (gunicorn's `--timeout`),
even though its process is alive. uvicorn's own `--workers` could not see that: its health
ping is answered by a side thread.

On Linux, `--reuse-port` gives each worker a listening socket of its own, bound to the same
address with SO_REUSEPORT by the worker itself (gunicorn releases after 23.0; 23.0 shared the
arbiter's one socket), and the kernel spreads new connections over them by a hash of the
client's address and port. uvicorn's
shared socket let the first worker to wake accept a whole burst: connections that stay open
(a reverse proxy's keep-alive pool, a load generator) then stayed piled on one worker, three
for every one of the other's, while the other idled. Elsewhere (no SO_REUSEPORT, or one that
does not balance) the workers share gunicorn's one socket.
"""

from __future__ import annotations

import importlib
import socket
import sys
from typing import Any

WORKER_TIMEOUT = 30  # seconds without a heartbeat from a worker's event loop before it is killed
KEEP_ALIVE = 5  # seconds an idle kept-alive connection stays open: uvicorn's default


def balances_by_reuseport() -> bool:
    """Linux spreads connections over SO_REUSEPORT sockets; BSD and macOS give them to one."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def serve(
    app: str,
    *,
    host: str,
    port: int,
    workers: int,
    proxy_headers: bool,
    forwarded_allow_ips: str | None,
    log_level: str,
    access_log: bool,
    worker_timeout: int = WORKER_TIMEOUT,
) -> None:
    """Serve `app` ("module:attribute"): gunicorn with `workers` uvicorn workers, uvicorn
    alone on Windows (the module docstring says why)."""
    if sys.platform == "win32":  # gunicorn runs on POSIX systems only
        import uvicorn

        uvicorn.run(
            app,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            log_level=log_level,
            access_log=access_log,
            timeout_keep_alive=KEEP_ALIVE,
        )
        return
    gunicorn_application(
        app,
        {
            "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
            "workers": workers,
            "worker_class": worker_class(proxy_headers=proxy_headers, access_log=access_log),
            "reuse_port": balances_by_reuseport(),
            "timeout": worker_timeout,
            "keepalive": KEEP_ALIVE,
            "forwarded_allow_ips": forwarded_allow_ips or "127.0.0.1",
            "loglevel": "debug" if log_level == "trace" else log_level,
            "accesslog": "-" if access_log else None,
            "proc_name": "cocreate",
        },
    ).run()


def worker_class(*, proxy_headers: bool, access_log: bool) -> type[Any]:
    """uvicorn's gunicorn worker with our uvicorn options (uvicorn-worker reads them from the
    class attribute CONFIG_KWARGS, the documented way to set them)."""
    from uvicorn_worker import UvicornWorker

    options = {
        **UvicornWorker.CONFIG_KWARGS,
        "proxy_headers": proxy_headers,
        "access_log": access_log,
    }
    return type("CocreateWorker", (UvicornWorker,), {"CONFIG_KWARGS": options})


def gunicorn_application(app: str, settings: dict[str, Any]) -> Any:
    """gunicorn for `app`, through gunicorn's documented custom-application API: a
    `BaseApplication` that sets its own settings (no command line or config file is read)
    and loads the app in each worker."""
    from gunicorn.app.base import BaseApplication

    class Application(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in settings.items():
                if value is not None:
                    self.cfg.set(name, value)

        def load(self) -> Any:
            # In the worker, after the fork: the arbiter never imports the app, so no engine
            # or pool is shared between workers.
            module, _, attribute = app.partition(":")
            return getattr(importlib.import_module(module), attribute)

    return Application()
