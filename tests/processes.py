"""Servers the tests start as processes of their own, as they run in production."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def running(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    ready_url: str,
    log_path: Path,
    timeout: float = 30,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command` in the repository, wait until `ready_url` answers 200, stop it after.

    Its output goes to `log_path`, shown when it does not start.
    """
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command), cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_until_ready(ready_url, process, log_path, timeout)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx2.get(url, timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass  # not listening yet
        time.sleep(0.05)
    raise RuntimeError(
        f"{process.args} not ready in {timeout} s:\n{log_path.read_text(errors='replace')}"
    )
