"""The cheap signals a vote carries for the fraud checks, read from the request.

Raw IP addresses are never stored. Each is hashed with a salt of its campaign: the salt is an
HMAC of the secret key and the campaign id, so it differs per campaign (hashes cannot be
joined across campaigns) and needs no storage (every worker derives the same one). Votes from
one network are grouped by the hash of the address's /24 (IPv4) or /64 (IPv6) prefix; an
IPv4-mapped IPv6 address (::ffff:203.0.113.7, as a dual-stack socket reports IPv4 clients)
counts as the IPv4 address it carries.

Devices are told apart by a long-lived random id in a signed cookie: signed, so a forged or
edited cookie is replaced rather than recorded as a made-up device.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from functools import lru_cache

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import Response

from cocreate.voting.service import Signals

DEVICE_COOKIE = "cocreate_device"
DEVICE_COOKIE_MAX_AGE = 2 * 365 * 24 * 3600  # two years
USER_AGENT_MAX = 300  # the votes.user_agent column


@lru_cache(maxsize=1024)
def campaign_salt(secret_key: str, campaign_id: int) -> bytes:
    """The hashing salt of one campaign, derived from the secret key (never stored)."""
    return hmac.new(
        secret_key.encode(), f"cocreate.vote-salt.{campaign_id}".encode(), hashlib.sha256
    ).digest()


def _hash(salt: bytes, value: str) -> str:
    return hmac.new(salt, value.encode(), hashlib.sha256).hexdigest()  # 64 characters


def parse_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address as IPv4 when it is one (IPv4-mapped IPv6 included), None when not an IP."""
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])  # drop an IPv6 zone
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def ip_prefix(address: str) -> str | None:
    """ "203.0.113.0/24" or "2001:db8:1:2::/64": the network a home or office shares."""
    ip = parse_ip(address)
    if ip is None:
        return None
    length = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{length}", strict=False))


@lru_cache(maxsize=4096)
def ip_hashes(salt: bytes, address: str | None) -> tuple[str | None, str | None]:
    """(hash of the address, hash of its prefix). Not an IP (a test client, a Unix socket):
    the text itself is hashed and there is no prefix."""
    if not address:
        return None, None
    ip = parse_ip(address)
    if ip is None:
        return _hash(salt, "raw:" + address[:100]), None
    prefix = ip_prefix(str(ip))
    return _hash(salt, "ip:" + str(ip)), _hash(salt, "net:" + str(prefix))


def trimmed_user_agent(value: str | None) -> str | None:
    if not value:
        return None
    printable = "".join(c for c in value[: USER_AGENT_MAX * 2] if c.isprintable())
    return printable.strip()[:USER_AGENT_MAX] or None


def _signer(secret_key: str) -> Signer:
    return Signer(secret_key, salt="cocreate.device")


def read_device_id(request: Request) -> str | None:
    """The device id of the request's signed cookie; None when absent, forged or edited."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 200:
        return None
    return _verified_device_id(request.app.state.settings.secret_key, raw)


@lru_cache(maxsize=4096)
def _verified_device_id(secret_key: str, raw: str) -> str | None:
    """Cached: a device votes many times, and checking the signature is a pure function of
    the key and the cookie."""
    try:
        value = _signer(secret_key).unsign(raw).decode()
    except (BadSignature, UnicodeDecodeError):
        return None
    return value if 0 < len(value) <= 64 else None


def device_id(request: Request) -> str:
    """The request's device id, made (and remembered for `remember_device`) when missing."""
    found: str | None = getattr(request.state, "device_id", None)
    if found is not None:
        return found
    found = read_device_id(request)
    if found is None:
        found = secrets.token_urlsafe(16)
        request.state.new_device_id = found
    request.state.device_id = found
    return found


def remember_device(request: Request, response: Response) -> Response:
    """Set the device cookie on `response` when this request made a new device id."""
    new: str | None = getattr(request.state, "new_device_id", None)
    if new is not None:
        settings = request.app.state.settings
        response.set_cookie(
            DEVICE_COOKIE,
            _signer(settings.secret_key).sign(new).decode(),
            max_age=DEVICE_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=settings.https,
        )
    return response


def vote_signals(request: Request, campaign_id: int) -> Signals:
    """What the fraud checks record of a vote request."""
    salt = campaign_salt(request.app.state.settings.secret_key, campaign_id)
    ip_hash, prefix_hash = ip_hashes(salt, request.client.host if request.client else None)
    return Signals(
        ip_hash=ip_hash,
        ip_prefix_hash=prefix_hash,
        device_id=device_id(request),
        user_agent=trimmed_user_agent(request.headers.get("user-agent")),
    )
