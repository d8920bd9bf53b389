"""The vote log of one round in the columnar form the detectors read.

A million votes as Python objects cost hundreds of megabytes and seconds to walk; as parallel
NumPy arrays they take tens of megabytes and vectorised passes. Text signals (hashes, device
ids, user agents, mailboxes) arrive as integer codes: equal codes mean equal values, -1 means
the value is missing. Codes are only comparable within one `VoteLog`/`Accounts` pair.

The database loader (`cases.load_round_log`) and the benchmark generator
(`benchmarks/fraud`) both produce these; the detectors never touch the database.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

Int64Array = NDArray[np.int64]
Float64Array = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

MISSING = -1  # the code of an absent signal


@dataclass(frozen=True)
class VoteLog:
    """Live votes of one round (counted or held, not withdrawn, not void), one index each."""

    vote_id: Int64Array
    voter: Int64Array  # users.id
    idea: Int64Array  # ideas.id
    at: Float64Array  # cast time, seconds since the Unix epoch (UTC)
    ip: Int64Array  # code of votes.ip_hash
    ip_prefix: Int64Array  # code of votes.ip_prefix_hash (/24 or /64)
    device: Int64Array  # code of votes.device_id
    user_agent: Int64Array  # code of votes.user_agent

    def __len__(self) -> int:
        return int(self.vote_id.shape[0])


@dataclass(frozen=True)
class Accounts:
    """The voters of a `VoteLog`, one index each (not aligned with the votes)."""

    user_id: Int64Array
    created_at: Float64Array  # seconds since the Unix epoch (UTC)
    verified: BoolArray
    mailbox: Int64Array  # code of the canonical mailbox (see `canonical_mailbox`)
    email_domain: Int64Array  # code of the email's domain
    disposable: BoolArray  # the domain is a known disposable-email domain
    # Code of `mailbox_pattern` (name1@, name2@... at one domain share it); None if unknown.
    mailbox_pattern: Int64Array | None = None

    def __len__(self) -> int:
        return int(self.user_id.shape[0])


class FindingKind(enum.StrEnum):
    RING = "ring"  # accounts voting for the same ideas in lockstep
    SOCKPUPPETS = "sockpuppets"  # accounts sharing networks, devices, mailboxes, sign-up bursts
    BURST = "burst"  # an idea's votes arriving far faster than its history predicts


@dataclass(frozen=True)
class Finding:
    """One suspicious group, with the evidence a moderator needs to decide it."""

    kind: FindingKind
    score: float  # 0..1: how sure the detector is that these votes are fraudulent
    vote_ids: frozenset[int]  # the votes a decision would void
    voter_ids: frozenset[int]
    idea_ids: frozenset[int]  # the ideas the group pushed (camouflage votes excluded)
    evidence: dict[str, Any] = field(default_factory=dict)  # JSON-ready: shared signals, windows


def canonical_mailbox(email: str) -> str:
    """One mailbox however it is spelled: the plus-tag dropped everywhere, dots dropped where
    the provider ignores them (Gmail), googlemail.com folded into gmail.com."""
    local, _, domain = email.strip().lower().rpartition("@")
    if not local:
        return email.strip().lower()
    local = local.split("+", 1)[0]
    if domain == "googlemail.com":
        domain = "gmail.com"
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"


_DIGITS = re.compile(r"[0-9]+")
_SEPARATORS = re.compile(r"[._-]+")


def mailbox_pattern(email: str) -> str:
    """The shape of a canonical mailbox with its numbers and separators dropped: `jane.doe@x.org`,
    `jane.doe1@x.org`, `janedoe_02@x.org` and `jane.doe+7@x.org` all give `janedoe@x.org`.
    One person's series of accounts shares it; so do some honest namesakes, which is why it is
    weak evidence alone."""
    local, _, domain = canonical_mailbox(email).rpartition("@")
    if not local:
        return ""
    local = _DIGITS.sub("", _SEPARATORS.sub("", local))
    return f"{local}@{domain}"
