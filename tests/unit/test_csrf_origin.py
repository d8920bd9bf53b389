"""The CSRF check's own address: the same as `request.base_url`'s, without building it."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from cocreate.security.csrf import _own_netloc

HOSTS = [
    None,
    b"cocreate.example",
    b"cocreate.example:8443",
    b"Cocreate.Example:443",
    b"[::1]:8000",
    b"user@cocreate.example",
    b"cocreate.example/evil?x#y",
    b"",
]
SERVERS: list[Any] = [None, ("10.0.0.1", 80), ["10.0.0.1", 443], ("10.0.0.1", 8000)]


def a_scope(scheme: str, host: bytes | None, server: Any, root_path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": scheme,
        "server": server,
        "path": "/c/x/vote/1",
        "root_path": root_path,
        "query_string": b"a=1",
        "headers": [(b"accept", b"*/*")] + ([] if host is None else [(b"host", host)]),
    }


def test_the_own_address_is_the_base_urls() -> None:
    for scheme, host, server, root_path in itertools.product(
        ["http", "https"], HOSTS, SERVERS, ["", "/sub"]
    ):
        scope = a_scope(scheme, host, server, root_path)
        expected = urlsplit(str(Request(scope).base_url)).netloc
        assert _own_netloc(scope) == expected, scope


def test_each_host_header_gets_its_own_address() -> None:
    server = ("10.0.0.1", 8000)
    first = _own_netloc(a_scope("http", b"one.example", server, ""))
    second = _own_netloc(a_scope("http", b"two.example", server, ""))
    assert (first, second) == ("one.example", "two.example")
    assert _own_netloc(a_scope("http", None, server, "")) == "10.0.0.1:8000"
    assert _own_netloc(a_scope("https", None, ("10.0.0.1", 443), "")) == "10.0.0.1"
