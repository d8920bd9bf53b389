"""A real OpenID Connect provider for the tests: the oidc-provider-mock package, in its own process.

It is a complete provider (discovery, JWKS, RS256 ID tokens, PKCE, a consent form); the
tests talk to it over HTTP only, as the platform and a browser would. A process of its own
keeps its Flask and werkzeug deprecation warnings out of the test run (warnings are errors
there) and lets the platform's uvicorn subprocess reach it too.

Run alone: `python -m tests.oidc_provider PORT` serves it on 127.0.0.1:PORT.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2

from tests.processes import running


@dataclass(frozen=True)
class Provider:
    """Drives the provider the way its users do: claims through its API, consent by its form."""

    issuer: str

    def set_user(self, sub: str, **claims: Any) -> None:
        """The claims (email, email_verified, name...) the provider will vouch for `sub`."""
        response = httpx2.put(f"{self.issuer}/users/{sub}", json=claims, timeout=5)
        assert response.status_code == 204, response.text

    def consent(self, authorize_url: str, sub: str) -> str:
        """Submit the provider's sign-in form as `sub`; the URL it sends the browser back to."""
        assert authorize_url.startswith(self.issuer + "/"), authorize_url
        form = httpx2.get(authorize_url, timeout=5)
        assert form.status_code == 200 and 'name="sub"' in form.text, form.text
        # The form posts to its own address (no action attribute), query string included.
        answer = httpx2.post(authorize_url, data={"sub": sub}, timeout=5)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def deny(self, authorize_url: str) -> str:
        """Press the form's Deny button; the URL it sends the browser back to."""
        answer = httpx2.post(authorize_url, data={"action": "deny"}, timeout=5)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]


def local_path(url: str) -> str:
    """Path and query of a URL, for a TestClient that serves the platform at another host."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@contextmanager
def running_provider(port: int, log_path: Path) -> Iterator[Provider]:
    issuer = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "tests.oidc_provider", str(port)]
    ready_url = f"{issuer}/.well-known/openid-configuration"
    with running(command, env=env, ready_url=ready_url, log_path=log_path):
        yield Provider(issuer)


def serve(port: int) -> None:
    """Serve the package's Flask app with werkzeug, Flask's own server, one thread a request."""
    import werkzeug.serving
    from oidc_provider_mock import app

    server = werkzeug.serving.make_server("127.0.0.1", port, app(), threaded=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
