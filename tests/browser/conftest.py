"""Debian's Chromium, driven by Playwright, against the platform served by a real uvicorn process.

The server runs `cocreate serve` in a subprocess on a free port, configured only through its
COCREATE_* environment like a deployment, on the test's database (SQLite or PostgreSQL), with
its outbox sending to the test's SMTP server and sign-in offered through the real OIDC
provider process.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import IN_CI, Mailbox, free_port
from tests.oidc_provider import Provider
from tests.processes import running

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options, pointed at the system's Chromium (no download)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (install Debian's chromium package: `make chromium`)"
        if IN_CI:
            pytest.fail(f"{message}: the browser tests are required when CI=true")
        pytest.skip(f"!!! SKIPPED: {message}. The browser tests did NOT run.")
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


# Headless Chromium says "HeadlessChrome" in its user agent, which the fraud checks rightly
# score as a scripted client. The tests stand in for people using an ordinary browser, so the
# pages see the user agent of the same Chromium with a window.
DESKTOP_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "user_agent": DESKTOP_USER_AGENT}


@pytest.fixture(scope="session")
def base_url() -> None:
    """Replaces pytest-playwright's own, which pytest 9 deprecates (a method fixture) and
    warnings are errors. Each test's server has its own address: `live_server.url`."""
    return None


@dataclass(frozen=True)
class LiveServer:
    url: str
    mailbox: Mailbox
    provider: Provider

    def wait_for_mail(self, address: str, timeout: float = 10) -> str:
        """The last link mailed to `address`, once the server's outbox sent it."""
        deadline = time.monotonic() + timeout
        while not self.mailbox.to(address):
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {address} within {timeout} s")
            time.sleep(0.05)
        return self.mailbox.last_link(address)


def server_environment(
    *, url: str, database_url: str, smtp_url: str, data_dir: Path, provider: Provider
) -> dict[str, str]:
    # Nothing from the developer's own COCREATE_* settings may leak into the server.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("COCREATE_")}
    return {
        **inherited,
        "COCREATE_ENV": "dev",
        "COCREATE_DATABASE_URL": database_url,
        "COCREATE_SMTP_URL": smtp_url,
        "COCREATE_OUTBOX_INTERVAL": "0.2",  # mails go out promptly
        "COCREATE_BASE_URL": url,
        "COCREATE_SECRET_KEY": "browser-tests-secret-key-" + "k" * 32,
        "COCREATE_DATA_DIR": str(data_dir),
        "COCREATE_OIDC_PROVIDERS": "mockid",
        "COCREATE_OIDC_MOCKID_ISSUER": provider.issuer,
        "COCREATE_OIDC_MOCKID_CLIENT_ID": "cocreate-browser-tests",
        "COCREATE_OIDC_MOCKID_CLIENT_SECRET": "cocreate-browser-tests-secret",
        "COCREATE_OIDC_MOCKID_LABEL": "Mock ID",
    }


@pytest.fixture
def live_server(
    database_url: str,
    engine: Engine,  # migrated before the server starts; emptied after it stops
    smtp: tuple[str, Mailbox],
    oidc_provider: Provider,
    tmp_path: Path,
) -> Iterator[LiveServer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = server_environment(
        url=url,
        database_url=database_url,
        smtp_url=smtp[0],
        data_dir=tmp_path,
        provider=oidc_provider,
    )
    log_path = tmp_path / "server.log"
    command = [
        sys.executable,
        "-m",
        "cocreate",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with running(command, env=env, ready_url=f"{url}/readyz", log_path=log_path):
        yield LiveServer(url=url, mailbox=smtp[1], provider=oidc_provider)
    # A traceback in the server is a failure even when the page looked fine to the test.
    output = log_path.read_text(errors="replace")
    assert "Traceback" not in output, output
