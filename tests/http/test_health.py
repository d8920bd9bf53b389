"""Health checks for the load balancer: /healthz (the process) and /readyz (the database)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner
from starlette.testclient import TestClient

from cocreate.app import create_app
from cocreate.settings import Settings
from tests.conftest import free_port

SECRET = "health-test-secret-" + "k" * 32


def test_healthz_says_the_process_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_says_the_database_answers(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    report = response.json()
    assert (report["status"], report["database"]) == ("ok", "ok")
    assert report["threads"]["busy"] == 0  # counted before its own ping
    assert report["threads"]["waiting"] == 0


@pytest.fixture
def without_database(tmp_path: Path) -> Iterator[TestClient]:
    """The app pointed at a PostgreSQL port where nothing listens."""
    settings = Settings(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/cocreate",
        secret_key=SECRET,
        base_url="http://testserver",
        data_dir=tmp_path,
        outbox_interval_seconds=0,
    )
    app = create_app(settings)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


def signed_in_cookie(uid: int = 1) -> str:
    """The session cookie Starlette would set for a signed-in account (itsdangerous)."""
    data = base64.b64encode(json.dumps({"uid": uid, "sv": 0}).encode())
    return TimestampSigner(SECRET).sign(data).decode()


def test_readyz_is_503_when_the_database_is_unreachable(without_database: TestClient) -> None:
    response = without_database.get("/readyz")
    assert response.status_code == 503
    report = response.json()
    assert (report["status"], report["database"]) == ("unavailable", "unreachable")
    assert without_database.get("/healthz").status_code == 200


def test_pages_say_unavailable_not_500_when_the_database_is_down(
    without_database: TestClient,
) -> None:
    response = without_database.get("/", headers={"accept-language": "fr"})
    assert response.status_code == 503
    assert "Momentanément indisponible" in response.text
    assert response.headers["retry-after"] == "30"
    assert "psycopg" not in response.text and "Traceback" not in response.text


def test_a_signed_in_visitor_gets_503_not_500_when_the_database_is_down(
    without_database: TestClient,
) -> None:
    without_database.cookies.set("cocreate_session", signed_in_cookie())
    for path in ("/", "/account", "/readyz"):
        response: Any = without_database.get(path)
        assert response.status_code == 503, path
    without_database.cookies.clear()  # what a load balancer sends
    assert without_database.get("/healthz").status_code == 200
