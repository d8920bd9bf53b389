"""Share links that say who shared them: `?ref=<code>`.

A code names the sharer and is signed for one campaign or idea (an HMAC with the app's
secret), so nobody can make a code that credits someone else, and a code copied onto
another idea's address credits nobody. No table, no write when a page shows share links.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

from cocreate.integers import ID_MAX

CODE = re.compile(r"([0-9a-z]{1,13})\.([0-9a-f]{16})")


def _mac(secret_key: str, sharer_id: int, campaign_id: int, idea_id: int | None) -> str:
    message = f"share:{sharer_id}:{campaign_id}:{idea_id or 0}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:16]


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def share_code(secret_key: str, sharer_id: int, campaign_id: int, idea_id: int | None) -> str:
    return f"{_base36(sharer_id)}.{_mac(secret_key, sharer_id, campaign_id, idea_id)}"


def sharer_of(secret_key: str, code: str, campaign_id: int, idea_id: int | None) -> int | None:
    """The sharer a code names for this campaign or idea; None for anything else."""
    found = CODE.fullmatch(code or "")
    if found is None:
        return None
    sharer_id = int(found.group(1), 36)
    if not 0 < sharer_id <= ID_MAX:
        return None
    expected = _mac(secret_key, sharer_id, campaign_id, idea_id)
    return sharer_id if hmac.compare_digest(expected, found.group(2)) else None


def visitor_key(secret_key: str, day: date, address: str, user_agent: str) -> str:
    """Who visited today, as a hash salted with the day: not followable across days."""
    message = f"{day.isoformat()}|{address}|{user_agent}".encode()
    key = hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()
    return key[:32]
