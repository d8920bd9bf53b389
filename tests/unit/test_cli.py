"""The `cocreate` command, run as an operator would: a real process on a real SQLite file."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from cocreate.app import create_app
from cocreate.settings import Settings, listening_url
from tests.conftest import Mailbox, free_port
from tests.processes import running

COCREATE = Path(sys.executable).parent / "cocreate"
KEY = "cli-test-secret-" + "k" * 32
ADMIN_PASSWORD = "a long admin passphrase"

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def environment(data_dir: Path) -> dict[str, str]:
    """The caller's environment without any COCREATE_* variable, plus a fresh data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COCREATE_")}
    env["COCREATE_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture
def run(environment: dict[str, str], tmp_path: Path) -> Run:
    def run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(COCREATE), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**environment, **env},
            cwd=tmp_path,
            timeout=120,
        )

    return run


def count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def test_help_of_the_command_and_each_subcommand(run: Run, environment: dict[str, str]) -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "migrate", "demo", "create-admin"):
        assert command in result.stdout
        sub = run(command, "--help")
        assert sub.returncode == 0, sub.stderr
        assert sub.stdout.startswith(f"usage: cocreate {command}"), sub.stdout
    assert "--password-stdin" in run("create-admin", "--help").stdout
    assert "--workers" in run("serve", "--help").stdout
    as_module = subprocess.run(
        [sys.executable, "-m", "cocreate", "--help"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert as_module.returncode == 0 and "create-admin" in as_module.stdout


def test_no_command_is_a_usage_error(run: Run) -> None:
    result = run()
    assert result.returncode == 2
    assert "usage: cocreate" in result.stderr


def test_migrate_and_demo_twice_create_the_demo_data_once(run: Run, data_dir: Path) -> None:
    for _ in range(2):
        migrated = run("migrate")
        assert migrated.returncode == 0, migrated.stderr
        assert "Database is up to date" in migrated.stdout
        demo = run("demo")
        assert demo.returncode == 0, demo.stderr
        assert "demo-consumer-pass" in demo.stdout
    database = data_dir / "cocreate.db"
    assert count(database, "brands") == 1
    assert count(database, "campaigns") == 1
    assert count(database, "users") == 5  # one per role, and the demo ideas' author
    assert count(database, "memberships") == 2
    assert count(database, "ideas") == 4
    assert (data_dir / "secret_key").exists(), "dev mode keeps its generated key"


def test_demo_before_migrate_says_what_to_do(run: Run) -> None:
    result = run("demo")
    assert result.returncode != 0
    assert "run `cocreate migrate` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_is_refused_in_production(run: Run, data_dir: Path) -> None:
    production = {"COCREATE_ENV": "production", "COCREATE_SECRET_KEY": KEY}
    assert run("migrate", **production).returncode == 0
    result = run("demo", **production)
    assert result.returncode != 0
    assert "refusing to load demo accounts" in result.stderr
    assert count(data_dir / "cocreate.db", "users") == 0


def test_production_without_a_secret_key_stops_with_a_clear_message(run: Run) -> None:
    result = run("migrate", COCREATE_ENV="production")
    assert result.returncode != 0
    assert "configuration error: COCREATE_SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_create_admin_makes_a_verified_admin_who_can_log_in(
    run: Run, data_dir: Path, tmp_path: Path
) -> None:
    assert run("migrate").returncode == 0
    result = run(
        "create-admin", "Boss@Example.com", "--name", "The Boss", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "boss@example.com is an administrator." in result.stdout
    database = data_dir / "cocreate.db"
    with sqlite3.connect(database) as conn:
        row = conn.execute(
            "SELECT display_name, is_admin, email_verified_at FROM users WHERE email = ?",
            ("boss@example.com",),
        ).fetchone()
    assert row[0] == "The Boss" and row[1] == 1 and row[2] is not None

    settings = Settings(
        database_url=f"sqlite:///{database}",
        secret_key=KEY,
        base_url="http://testserver",
        data_dir=tmp_path,
        outbox_interval_seconds=0,
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        response = client.post(
            "/login",
            data={
                "csrf_token": token.group(1),
                "email": "boss@example.com",
                "password": ADMIN_PASSWORD,
            },
        )
        assert response.status_code == 303
        page = client.get("/account")
        assert page.status_code == 200 and "The Boss" in page.text


def test_create_admin_refuses_a_weak_password_with_a_clear_message(
    run: Run, data_dir: Path
) -> None:
    assert run("migrate").returncode == 0
    result = run("create-admin", "boss@example.com", "--password-stdin", stdin="short\n")
    assert result.returncode != 0
    assert "Use at least 10 characters." in result.stderr
    assert "Traceback" not in result.stderr
    assert count(data_dir / "cocreate.db", "users") == 0


def test_create_admin_refuses_an_invalid_email(run: Run, data_dir: Path) -> None:
    assert run("migrate").returncode == 0
    result = run("create-admin", "not-an-email", "--password-stdin", stdin=ADMIN_PASSWORD)
    assert result.returncode != 0
    assert "Enter a valid email address" in result.stderr


def test_serve_believes_x_forwarded_for_only_from_trusted_proxies(
    run: Run, environment: dict[str, str], tmp_path: Path
) -> None:
    """Behind a proxy every request comes from its address: the per-IP log-in limit must
    count the visitor's address the proxy forwards, or one guesser locks out everyone."""
    assert run("migrate").returncode == 0
    port = free_port()
    env = {
        **environment,
        "COCREATE_TRUSTED_PROXIES": "127.0.0.1",
        "COCREATE_LOGIN_IP_RATE_LIMIT": "2/15 minutes",
        "COCREATE_OUTBOX_INTERVAL": "0",
    }
    server = subprocess.Popen(
        [str(COCREATE), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "cocreate serve did not start"
            time.sleep(0.2)

        def attempt(visitor: str, email: str) -> int:
            with httpx.Client(base_url=base, headers={"x-forwarded-for": visitor}) as c:
                token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
                assert token
                data = {"csrf_token": token.group(1), "email": email, "password": "x"}
                return c.post("/login", data=data).status_code

        guesses = [attempt("203.0.113.1", f"user{n}@example.com") for n in range(3)]
        assert guesses == [400, 400, 429]
        # Another visitor behind the same proxy is not locked out by the guesser.
        assert attempt("198.51.100.1", "someone@example.com") == 400
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr:
            server.stderr.close()


@pytest.mark.parametrize("explicit", [None, "http://ideas.example.com"])
def test_emailed_links_name_the_port_the_server_listens_on(
    run: Run,
    environment: dict[str, str],
    tmp_path: Path,
    smtp: tuple[str, Mailbox],
    explicit: str | None,
) -> None:
    """Without COCREATE_BASE_URL the links in mails lead to the address `cocreate serve`
    listens on (not port 8000 whatever the port); an explicit COCREATE_BASE_URL wins."""
    assert run("migrate").returncode == 0
    port = free_port()
    env = {**environment, "COCREATE_SMTP_URL": smtp[0], "COCREATE_OUTBOX_INTERVAL": "0.2"}
    if explicit is not None:
        env["COCREATE_BASE_URL"] = explicit
    base = f"http://127.0.0.1:{port}"
    with running(
        [str(COCREATE), "serve", "--port", str(port)],
        env=env,
        ready_url=f"{base}/readyz",
        log_path=tmp_path / "server.log",
    ):
        with httpx.Client(base_url=base) as c:
            token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/signup").text)
            assert token
            form = {
                "csrf_token": token.group(1),
                "email": "newcomer@example.com",
                "display_name": "Newcomer",
                "password": "a long enough passphrase",
            }
            assert c.post("/signup", data=form).status_code == 200
        deadline = time.monotonic() + 15
        while not smtp[1].to("newcomer@example.com"):
            assert time.monotonic() < deadline, "no verification mail"
            time.sleep(0.1)
    link = smtp[1].last_link("newcomer@example.com")
    assert link.startswith(f"{explicit or base}/verify/"), link


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8123"),
        ("0.0.0.0", "http://localhost:8123"),
        ("::", "http://localhost:8123"),
        ("::1", "http://[::1]:8123"),
        ("ideas.local", "http://ideas.local:8123"),
    ],
)
def test_the_listening_url_is_one_a_link_can_open(host: str, url: str) -> None:
    assert listening_url(host, 8123) == url
