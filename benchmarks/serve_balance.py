"""How evenly a multi-worker server spreads connections that stay open.

Starts a server (`cocreate serve --workers N`, or for comparison uvicorn's `--workers` or
gunicorn called directly) on a bare app that answers with its worker's pid, then `--trials`
times opens `--connections` connections at once, keeps them, and asks each which worker
serves it. Prints, per launcher, the share of connections held by the busiest worker (0.5 is
perfect balance with two workers): median and range over the trials; plus the median time of
a kept-alive request, which shows a Nagle stall (~40 ms) at once.

Usage: python -m benchmarks.serve_balance [--launchers cocreate,gunicorn,uvicorn]
    [--workers 2] [--connections 64] [--trials 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

from benchmarks.vote_load import ROOT, free_port, launcher


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = str(os.getpid()).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def ask(connection: socket.socket) -> int:
    connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.split(b"\r\n\r\n", 1)[1]:
        chunk = connection.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed after {answer!r}")
        answer += chunk
    return int(answer.split(b"\r\n\r\n", 1)[1])


def burst(port: int, count: int) -> Counter[int]:
    connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    try:
        return Counter(ask(connection) for connection in connections)
    finally:
        for connection in connections:
            connection.close()


def measure(name: str, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCREATE_")}
    env["COCREATE_SECRET_KEY"] = "serve-balance-benchmark-key-" + "s" * 32
    env["VOTE_LOAD_LAUNCHER"] = name
    command = [
        sys.executable,
        "-m",
        *launcher("benchmarks.serve_balance:app", port=port, workers=args.workers),
    ]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            seen: set[int] = set()
            while len(seen) < args.workers:
                if time.monotonic() > deadline or process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{command} did not start:\n{log.read().decode()}")
                try:
                    seen |= set(burst(port, 8))
                except OSError:
                    time.sleep(0.1)
            busiest = []
            for _ in range(args.trials):
                per_worker = burst(port, args.connections)
                busiest.append(max(per_worker.values()) / args.connections)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                ask(connection)
                times = []
                for _ in range(50):
                    start = time.perf_counter()
                    ask(connection)
                    times.append(time.perf_counter() - start)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {
        "launcher": name,
        "busiest_median": statistics.median(busiest),
        "busiest_min": min(busiest),
        "busiest_max": max(busiest),
        "kept_alive_ms": statistics.median(times) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve_balance", description=__doc__)
    parser.add_argument("--launchers", default="cocreate,gunicorn,uvicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args(argv)
    print(
        f"| launcher | busiest worker's share of {args.connections} connections "
        f"(median, min-max over {args.trials}) | kept-alive request, median |"
    )
    print("|---|---|---|")
    for name in [n.strip() for n in args.launchers.split(",") if n.strip()]:
        r = measure(name, args)
        print(
            f"| {name} | {r['busiest_median']:.0%} ({r['busiest_min']:.0%}-"
            f"{r['busiest_max']:.0%}) | {r['kept_alive_ms']:.2f} ms |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
