"""Signed, expiring tokens for links sent by email (itsdangerous)."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer


class InvalidToken(Exception):
    pass


class Tokens:
    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key

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
