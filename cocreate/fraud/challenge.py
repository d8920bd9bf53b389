"""Proof-of-work challenges, self-hosted, in the ALTCHA format (version 1).

The server picks a random salt and a secret number below `max_number`, and sends the SHA-256
of salt + number together with an HMAC of it (keyed by the secret key). The browser tries
0, 1, 2, ... until the hash matches (static/js/pow-worker.js, crypto.subtle in a Web Worker)
and sends back the number; checking it costs the server one hash and one HMAC. No third party
is involved and nothing is tracked.

The salt carries the challenge's terms as ALTCHA does (`<random>?expires=...&r=...&v=...&i=...`)
and is covered by the HMAC, so a solution is only good for one voter, round and idea (or, for a
log-in, one account: see cocreate/accounts/login_limits.py), until it expires. A solution is
accepted once: its signature is marked used in the shared rate-limit store (Redis when
configured), so a replayed solution is refused on every worker.

The payload the browser posts back is base64 of JSON {algorithm, challenge, number, salt,
signature}, the same as the ALTCHA widget's, so the widget could replace our solver.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs

from cocreate.security.ratelimit import RateLimiter

ALGORITHM = "SHA-256"
MAX_NUMBER = 100_000  # ~50,000 hashes on average: well under a second in a browser
LIFETIME_SECONDS = 300
PAYLOAD_MAX = 2000  # characters of the posted solution


class Check(enum.StrEnum):
    SOLVED = "solved"
    INVALID = "invalid"  # forged, damaged, for another vote, or wrong number
    EXPIRED = "expired"
    REPLAYED = "replayed"


class Terms(Protocol):
    """What a challenge is good for: terms written into its salt and checked on the way back.
    Two kinds of binding must not be able to share every term name with the same values."""

    def params(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Binding:
    """A vote's challenge: good for one voter, round and idea."""

    round_id: int
    voter_id: int
    idea_id: int

    def params(self) -> dict[str, str]:
        return {"r": str(self.round_id), "v": str(self.voter_id), "i": str(self.idea_id)}


def _key(secret_key: str) -> bytes:
    # A key of its own, so that an HMAC made here is worth nothing anywhere else.
    return hmac.new(secret_key.encode(), b"cocreate.altcha", hashlib.sha256).digest()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _sign(secret_key: str, challenge: str) -> str:
    return hmac.new(_key(secret_key), challenge.encode(), hashlib.sha256).hexdigest()


def create(
    *, secret_key: str, binding: Terms, now: datetime, max_number: int = MAX_NUMBER
) -> dict[str, Any]:
    """A new challenge, as the JSON the solver reads."""
    expires = int(now.timestamp()) + LIFETIME_SECONDS
    terms = "&".join(f"{k}={v}" for k, v in {"expires": str(expires), **binding.params()}.items())
    salt = f"{secrets.token_hex(12)}?{terms}"
    number = secrets.randbelow(max_number + 1)
    challenge = _sha256(f"{salt}{number}")
    return {
        "algorithm": ALGORITHM,
        "challenge": challenge,
        "maxnumber": max_number,
        "salt": salt,
        "signature": _sign(secret_key, challenge),
    }


def solve(challenge: dict[str, Any]) -> dict[str, Any] | None:
    """The browser's search, in Python (tests, and clients without JavaScript tooling)."""
    salt, target = challenge["salt"], challenge["challenge"]
    for number in range(int(challenge["maxnumber"]) + 1):
        if _sha256(f"{salt}{number}") == target:
            return {
                "algorithm": challenge["algorithm"],
                "challenge": target,
                "number": number,
                "salt": salt,
                "signature": challenge["signature"],
            }
    return None


def encode(solution: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(solution).encode()).decode()


def _decode(payload: str) -> dict[str, Any] | None:
    if not payload or len(payload) > PAYLOAD_MAX:
        return None
    try:
        data = json.loads(base64.b64decode(payload, validate=True))
    except (binascii.Error, ValueError):
        return None
    return data if isinstance(data, dict) else None


def verify(
    payload: str,
    *,
    secret_key: str,
    binding: Terms,
    now: datetime,
    store: RateLimiter,
) -> Check:
    """Check a posted solution; a good one is spent (a second use is REPLAYED)."""
    data = _decode(payload)
    if data is None:
        return Check.INVALID
    salt, challenge, signature = data.get("salt"), data.get("challenge"), data.get("signature")
    number = data.get("number")
    if (
        data.get("algorithm") != ALGORITHM
        or not isinstance(salt, str)
        or not isinstance(challenge, str)
        or not isinstance(signature, str)
        or isinstance(number, bool)
        or not isinstance(number, int)
        or number < 0
    ):
        return Check.INVALID
    if not hmac.compare_digest(_sign(secret_key, challenge), signature):
        return Check.INVALID
    if not hmac.compare_digest(_sha256(f"{salt}{number}"), challenge):
        return Check.INVALID
    terms = {k: v[0] for k, v in parse_qs(salt.partition("?")[2]).items()}
    if any(terms.get(k) != v for k, v in binding.params().items()):
        return Check.INVALID
    try:
        expires = int(terms.get("expires", ""))
    except ValueError:
        return Check.INVALID
    remaining = expires - now.timestamp()
    if remaining <= 0:
        return Check.EXPIRED
    if not store.first_use(f"altcha-used:{signature}", int(remaining) + 1):
        return Check.REPLAYED
    return Check.SOLVED
