"""Signed, expiring tokens for links sent by email (itsdangerous).

A link that acts on an account is also bound to the account's state when it was made (its
email address and password hash, see `fingerprint`): when either changes, the link dies, so a
reset link mailed to an old address, or read by whoever knew the old password, is worthless.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer


class InvalidToken(Exception):
    pass


class Tokens:
    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        # A key of its own: a fingerprint is worth nothing as a signature anywhere else.
        self._fingerprint_key = hmac.new(
            secret_key.encode(), b"cocreate.token-fingerprint", hashlib.sha256
        ).digest()

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret_key, salt=f"cocreate.{purpose}")

    def make(self, purpose: str, data: dict[str, Any]) -> str:
        return str(self._serializer(purpose).dumps(data))

    def read(self, purpose: str, token: str, *, max_age_seconds: int) -> dict[str, Any]:
        """The token's data; InvalidToken when forged, for another purpose, or expired."""
        if len(token) > 1000:
            raise InvalidToken("too long")
        try:
            data = self._serializer(purpose).loads(token, max_age=max_age_seconds)
        except BadSignature as exc:  # SignatureExpired is a BadSignature too
            raise InvalidToken(str(exc)) from None
        if not isinstance(data, dict):
            raise InvalidToken("not a mapping")
        return data

    def fingerprint(self, purpose: str, *state: str | None) -> str:
        """A short keyed digest of `state` (say an account's email and password hash), to put
        in a token and compare when it comes back. Keyed, so the token (whose data anyone
        can read) reveals nothing about the password hash."""
        message = json.dumps([purpose, *state]).encode()
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()[:32]

    def same_state(self, purpose: str, data: dict[str, Any], *state: str | None) -> bool:
        """True when the token's fingerprint (`data["fp"]`) is the one of `state` now."""
        made = data.get("fp")
        if not isinstance(made, str):
            return False
        return hmac.compare_digest(made, self.fingerprint(purpose, *state))
