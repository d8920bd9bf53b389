"""The site's icon: at /favicon.ico (where browsers ask on their own) and linked as SVG."""

from __future__ import annotations

from io import BytesIO

from PIL import Image
from starlette.testclient import TestClient


def test_favicon_ico_is_an_icon(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/vnd.microsoft.icon"
    assert "max-age" in response.headers["cache-control"]
    icon = Image.open(BytesIO(response.content))
    assert icon.format == "ICO"
    assert (32, 32) in icon.info["sizes"]
    assert "set-cookie" not in response.headers  # no session for an icon


def test_pages_link_the_svg_icon(client: TestClient) -> None:
    page = client.get("/").text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg")
