"""The risk score of one vote, from signals cheap enough to read at the moment of the vote.

`assess` is pure: the vote endpoint gathers the inputs (the voter's row, three sliding-window
counts from the shared rate-limit store, one indexed lookup of accounts sharing a mailbox) and
this turns them into a score and the list of signals that contributed.

The score runs from 0.0 (nothing suspicious) to 1.0. Each signal adds its weight, scaled by
how strongly it fired; the sum is capped at 1.0. A sum rather than a product keeps the score
easy to explain to a moderator: "new account 0.20 + disposable domain 0.30 = 0.50". The
weights are set so that no single weak signal (a new account, a shared office network) reaches
the default challenge threshold alone, while two independent ones do, and a scripted client on
a throwaway account is refused. See docs/fraud.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache

# Weights: what each signal adds at full strength.
UNVERIFIED = 0.25
NEW_ACCOUNT_DAY = 0.20  # created less than a day before the vote
NEW_ACCOUNT_WEEK = 0.10  # less than a week
DISPOSABLE = 0.30
EMPTY_USER_AGENT = 0.40
SCRIPTED_USER_AGENT = 0.50
SHARED_NETWORK = 0.30  # many votes from one /24 or /64 in the window
SHARED_DEVICE = 0.35  # many votes from one device cookie in the window
VELOCITY = 0.25  # one account voting faster than a person reads
MAILBOX_SIBLING = 0.30  # per other account of the same mailbox voting in the round (max 2)

# Sliding windows and the counts they allow before the signal starts to fire. A signal ramps
# from 0 at the free count to full strength at twice it, so one vote more changes little.
NETWORK_WINDOW = timedelta(hours=1)
NETWORK_FREE = 30  # an office, a campus, a carrier-grade NAT: many people, one prefix
DEVICE_WINDOW = timedelta(hours=1)
DEVICE_FREE = 15  # a family sharing a tablet: three people, five votes each
VELOCITY_WINDOW = timedelta(minutes=1)
VELOCITY_FREE = 10  # a person reading ideas does not vote more than this a minute

# Clients that announce themselves as programs. A real browser always sends a user agent.
# Searched in the lower-cased agent: with re.IGNORECASE the search of a browser's agent took
# five times as long (25 µs against 5).
SCRIPTED = re.compile(
    r"curl|wget|python-requests|python-urllib|aiohttp|httpx|go-http-client|okhttp|"
    r"java/|apache-httpclient|libwww-perl|node-fetch|axios|undici|postman|insomnia|"
    r"headless|phantomjs|selenium|webdriver|puppeteer|playwright|scrapy|"
    r"\bbot\b|crawler|spider"
)
# Agents up to this length have their signal remembered (a few thousand of them): a site's
# voters send few distinct agents, one per browser version. Longer ones are searched anew.
REMEMBERED_AGENT_LENGTH = 512


@dataclass(frozen=True)
class RiskInputs:
    """What the vote endpoint knows about one vote; counts include the vote itself."""

    email: str | None
    verified: bool
    account_created_at: datetime
    now: datetime
    user_agent: str | None
    network_votes: int = 0  # votes from the same IP prefix in NETWORK_WINDOW
    device_votes: int = 0  # votes from the same device cookie in DEVICE_WINDOW
    account_votes: int = 0  # votes of the account in VELOCITY_WINDOW
    mailbox_siblings: int = 0  # other accounts of the same canonical mailbox voting in the round
    # How many of the method's ballot actions a person makes where a ballot of votes has one
    # (`VotingMethod.pace`): the windows' free counts grow with it. A head-to-head voter
    # judges a pair in seconds; that is not a script's pace.
    pace: float = 1.0


@dataclass(frozen=True)
class Risk:
    score: float  # 0.0 .. 1.0
    signals: dict[str, float]  # name -> what it added; only signals that fired

    def as_json(self) -> dict[str, float]:
        return {name: round(value, 3) for name, value in self.signals.items()}


@cache
def _disposable_domains() -> frozenset[str]:
    from disposable_email_domains import blocklist

    return frozenset(blocklist)


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower().rstrip(".") or None


def is_disposable(email: str | None) -> bool:
    """Whether the address is at a known throwaway-mail domain (or a subdomain of one)."""
    domain = email_domain(email)
    if domain is None:
        return False
    domains = _disposable_domains()
    parts = domain.split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts) - 1))


def user_agent_signal(user_agent: str | None) -> tuple[str, float] | None:
    if not user_agent or not user_agent.strip():
        return "empty_user_agent", EMPTY_USER_AGENT
    if len(user_agent) <= REMEMBERED_AGENT_LENGTH:
        return _remembered_agent_signal(user_agent)
    return _agent_signal(user_agent)


def _agent_signal(user_agent: str) -> tuple[str, float] | None:
    if SCRIPTED.search(user_agent.lower()):
        return "scripted_user_agent", SCRIPTED_USER_AGENT
    return None


_remembered_agent_signal = lru_cache(maxsize=4096)(_agent_signal)


def ramp(count: int, free: int) -> float:
    """0 up to `free`, then rising linearly to 1 at twice `free`."""
    if count <= free:
        return 0.0
    return min(1.0, (count - free) / free)


def assess(inputs: RiskInputs) -> Risk:
    signals: dict[str, float] = {}
    if not inputs.verified:
        signals["unverified_email"] = UNVERIFIED
    age = inputs.now - inputs.account_created_at
    if age < timedelta(days=1):
        signals["new_account"] = NEW_ACCOUNT_DAY
    elif age < timedelta(days=7):
        signals["new_account"] = NEW_ACCOUNT_WEEK
    if is_disposable(inputs.email):
        signals["disposable_email"] = DISPOSABLE
    agent = user_agent_signal(inputs.user_agent)
    if agent is not None:
        signals[agent[0]] = agent[1]
    for name, count, free, weight in (
        ("shared_network", inputs.network_votes, NETWORK_FREE, SHARED_NETWORK),
        ("shared_device", inputs.device_votes, DEVICE_FREE, SHARED_DEVICE),
        ("velocity", inputs.account_votes, VELOCITY_FREE, VELOCITY),
    ):
        strength = ramp(count, max(free, round(free * inputs.pace)))
        if strength > 0:
            signals[name] = weight * strength
    if inputs.mailbox_siblings > 0:
        signals["mailbox_siblings"] = MAILBOX_SIBLING * min(2, inputs.mailbox_siblings)
    return Risk(score=min(1.0, sum(signals.values())), signals=signals)
