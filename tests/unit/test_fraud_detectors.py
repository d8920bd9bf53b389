"""The layer-2 detectors on small hand-made logs: a honest background plus one pattern each."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from cocreate.fraud.detectors import ScanConfig, scan
from cocreate.fraud.log import MISSING, Accounts, Finding, FindingKind, VoteLog

HOUR = 3600.0
DAY = 86400.0
T0 = 1_790_000_000.0  # a round's opening, seconds since the epoch
DAYS = 7


@dataclass
class Builder:
    """A log under construction: accounts and votes with explicit signals."""

    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(7))
    votes: list[tuple[int, int, float, int, int, int]] = field(default_factory=list)
    accounts: dict[int, tuple[float, int, int, int]] = field(default_factory=dict)
    next_code: int = 1_000_000

    def code(self) -> int:
        self.next_code += 1
        return self.next_code

    def account(
        self,
        *,
        created: float = T0 - 400 * DAY,
        mailbox: int | None = None,
        pattern: int | None = None,
        domain: int = 1,
    ) -> int:
        uid = len(self.accounts) + 1
        self.accounts[uid] = (
            created,
            mailbox if mailbox is not None else self.code(),
            pattern if pattern is not None else self.code(),
            domain,
        )
        return uid

    def vote(self, uid: int, idea: int, at: float, *, prefix: int, device: int) -> None:
        self.votes.append((uid, idea, at, prefix, device, 1))

    def human_time(self) -> float:
        """A time in the waking hours of one of the round's days."""
        day = int(self.rng.integers(0, DAYS))
        return T0 + day * DAY + float(self.rng.uniform(8 * HOUR, 23 * HOUR))

    def background(self, *, voters: int = 400, ideas: int = 60) -> list[int]:
        """Honest voters: own household prefix and device, a few votes each, ideas by
        popularity (idea 1 most popular), spread over the days' waking hours."""
        weights = 1.0 / np.arange(1, ideas + 1)
        weights /= weights.sum()
        uids = []
        for _ in range(voters):
            uid = self.account()
            uids.append(uid)
            prefix, device = self.code(), self.code()
            count = int(self.rng.integers(1, 8))
            for idea in self.rng.choice(ideas, size=count, replace=False, p=weights):
                self.vote(uid, int(idea) + 1, self.human_time(), prefix=prefix, device=device)
        return uids

    def build(self) -> tuple[VoteLog, Accounts]:
        n = len(self.votes)
        cols = list(zip(*self.votes, strict=True)) if n else [[] for _ in range(6)]
        uid = np.asarray(list(self.accounts), dtype=np.int64)
        rows = list(self.accounts.values())
        log = VoteLog(
            vote_id=np.arange(1, n + 1, dtype=np.int64),
            voter=np.asarray(cols[0], dtype=np.int64),
            idea=np.asarray(cols[1], dtype=np.int64),
            at=np.asarray(cols[2], dtype=np.float64),
            ip=np.asarray(cols[3], dtype=np.int64),
            ip_prefix=np.asarray(cols[3], dtype=np.int64),
            device=np.asarray(cols[4], dtype=np.int64),
            user_agent=np.full(n, 1, dtype=np.int64),
        )
        accounts = Accounts(
            user_id=uid,
            created_at=np.asarray([r[0] for r in rows], dtype=np.float64),
            verified=np.ones(uid.shape[0], dtype=bool),
            mailbox=np.asarray([r[1] for r in rows], dtype=np.int64),
            email_domain=np.asarray([r[3] for r in rows], dtype=np.int64),
            disposable=np.zeros(uid.shape[0], dtype=bool),
            mailbox_pattern=np.asarray([r[2] for r in rows], dtype=np.int64),
        )
        return log, accounts

    def vote_ids_of(self, uids: set[int]) -> set[int]:
        return {k + 1 for k, v in enumerate(self.votes) if v[0] in uids}


def flagged_voters(findings: list[Finding]) -> set[int]:
    return {v for f in findings for v in f.voter_ids}


def flagged_votes(findings: list[Finding]) -> set[int]:
    return {v for f in findings for v in f.vote_ids}


def test_empty_log_gives_no_findings() -> None:
    log, accounts = Builder().build()
    assert scan(log, accounts) == []


def test_honest_background_gives_no_findings() -> None:
    b = Builder()
    b.background()
    assert scan(*b.build()) == []


def ring(b: Builder, *, size: int, targets: list[int], at: float, camouflage: int) -> set[int]:
    """Accounts with their own networks and devices voting for `targets` within one hour."""
    uids = set()
    for _ in range(size):
        uid = b.account()
        uids.add(uid)
        prefix, device = b.code(), b.code()
        moment = at + float(b.rng.uniform(0, HOUR - 300))
        for k, idea in enumerate(targets):
            b.vote(uid, idea, moment + 60 * k, prefix=prefix, device=device)
        for idea in b.rng.choice(5, size=camouflage, replace=False):
            b.vote(uid, int(idea) + 1, b.human_time(), prefix=prefix, device=device)
    return uids


def test_a_lockstep_ring_is_found() -> None:
    b = Builder()
    b.background()
    members = ring(b, size=25, targets=[40, 41, 42], at=T0 + 3 * DAY + 20 * HOUR, camouflage=0)
    findings = scan(*b.build())
    assert len(findings) == 1
    (finding,) = findings
    assert finding.kind is FindingKind.RING
    assert finding.voter_ids == members
    assert finding.idea_ids == {40, 41, 42}
    assert finding.vote_ids == b.vote_ids_of(members)
    assert 0.9 <= finding.score <= 1.0
    assert finding.evidence["reason"] == "lockstep"
    assert finding.evidence["ideas"] == {"40": 25, "41": 25, "42": 25}


def test_a_camouflaged_ring_is_found_with_its_camouflage_votes() -> None:
    b = Builder()
    b.background()
    members = ring(b, size=25, targets=[40, 41, 42], at=T0 + 3 * DAY + 20 * HOUR, camouflage=4)
    (finding,) = scan(*b.build())
    assert finding.kind is FindingKind.RING
    assert finding.voter_ids == members
    assert finding.idea_ids == {40, 41, 42}  # the camouflage ideas are not "pushed"
    assert finding.vote_ids == b.vote_ids_of(members)
    assert finding.evidence["other_votes"] == 25 * 4


def test_an_honest_busy_voter_is_not_flagged() -> None:
    b = Builder()
    b.background()
    busy = b.account()
    prefix, device = b.code(), b.code()
    start = T0 + 2 * DAY + 19 * HOUR
    for idea in range(1, 61):  # every idea, one a minute
        b.vote(busy, idea, start + 60 * idea, prefix=prefix, device=device)
    assert scan(*b.build()) == []


def test_honest_voters_behind_one_cgnat_prefix_are_not_flagged() -> None:
    b = Builder()
    b.background()
    cgnat = b.code()
    weights = 1.0 / np.arange(1, 61)
    weights /= weights.sum()
    for _ in range(150):
        uid = b.account()
        device = b.code()
        for idea in b.rng.choice(60, size=int(b.rng.integers(1, 6)), replace=False, p=weights):
            b.vote(uid, int(idea) + 1, b.human_time(), prefix=cgnat, device=device)
    assert scan(*b.build()) == []


def test_sockpuppets_sharing_devices_and_a_mailbox_pattern_are_found() -> None:
    b = Builder()
    b.background()
    home, pattern = b.code(), b.code()
    devices = [b.code(), b.code()]
    signup = T0 - 2 * DAY + 21 * HOUR
    puppets = set()
    for k in range(12):
        uid = b.account(created=signup + 300 * k, pattern=pattern)
        puppets.add(uid)
        # Dripping: one vote a day, at a different evening hour each day.
        for day in range(0, DAYS, 2):
            at = T0 + day * DAY + float(b.rng.uniform(18 * HOUR, 23 * HOUR))
            b.vote(uid, 30, at, prefix=home, device=devices[k % 2])
        b.vote(uid, 1, b.human_time(), prefix=home, device=devices[k % 2])
    findings = scan(*b.build())
    assert len(findings) == 1
    (finding,) = findings
    assert finding.kind is FindingKind.SOCKPUPPETS
    assert finding.voter_ids == puppets
    assert 30 in finding.idea_ids
    assert finding.vote_ids == b.vote_ids_of(puppets)
    signals = finding.evidence["signals"]
    assert {e["code"] for e in signals["device"]} == set(devices)
    assert [e["code"] for e in signals["mailbox_pattern"]] == [pattern]
    assert signals["mailbox_pattern"][0] == {"code": pattern, "accounts": 12, "flagged": True}
    assert [e["code"] for e in signals["ip_prefix"]] == [home]


def test_a_family_sharing_one_device_is_not_flagged() -> None:
    b = Builder()
    b.background()
    prefix, device = b.code(), b.code()
    for _ in range(4):
        uid = b.account()
        b.vote(uid, 50, b.human_time(), prefix=prefix, device=device)
        b.vote(uid, 2, b.human_time(), prefix=prefix, device=device)
    assert scan(*b.build()) == []


def test_a_scripted_burst_from_one_prefix_is_found_without_the_ideas_honest_votes() -> None:
    b = Builder()
    b.background()
    honest = {k + 1 for k, v in enumerate(b.votes) if v[1] == 20}
    subnet = b.code()
    start = T0 + 4 * DAY + 21 * HOUR
    bots = set()
    for k in range(60):
        uid = b.account(created=start - 600 + 10 * k)
        bots.add(uid)
        b.vote(uid, 20, start + 20 * k, prefix=subnet, device=b.code())
    (finding,) = scan(*b.build())
    assert finding.idea_ids == {20}
    assert finding.vote_ids == b.vote_ids_of(bots)
    assert not finding.vote_ids & honest
    # New accounts from one network pushing one idea are sockpuppets too: one merged finding.
    parts = {p["kind"]: p["evidence"] for p in finding.evidence.get("parts", [])}
    burst = parts.get("burst", finding.evidence)
    assert burst["reason"] == "burst"
    assert burst["signals"]["ip_prefix"] == [{"code": subnet, "votes": 60}]
    (window,) = burst["windows"]
    assert window["idea"] == 20 and window["start"] <= start <= window["end"]


def test_an_idea_that_is_steadily_popular_is_not_flagged() -> None:
    b = Builder()
    b.background()
    for _ in range(300):  # 300 more voters for idea 9, spread over the week
        uid = b.account()
        b.vote(uid, 9, b.human_time(), prefix=b.code(), device=b.code())
    assert scan(*b.build()) == []


def test_an_honest_viral_spike_from_many_networks_is_not_flagged() -> None:
    b = Builder()
    b.background()
    start = T0 + 5 * DAY + 12 * HOUR
    for k in range(80):
        uid = b.account(created=start + 30 * k - 120)  # new sign-ups from a shared link
        b.vote(uid, 25, start + 30 * k, prefix=b.code(), device=b.code())
    assert scan(*b.build()) == []


def test_a_stricter_configuration_finds_less() -> None:
    b = Builder()
    b.background()
    ring(b, size=25, targets=[40, 41, 42], at=T0 + 3 * DAY + 20 * HOUR, camouflage=2)
    log, accounts = b.build()
    assert scan(log, accounts)
    assert scan(log, accounts, config=ScanConfig(ring_min_accounts=30, burst_min_votes=30)) == []


@pytest.mark.parametrize("missing", ["mailbox_pattern", "signals"])
def test_missing_signals_are_tolerated(missing: str) -> None:
    b = Builder()
    b.background(voters=50)
    log, accounts = b.build()
    if missing == "mailbox_pattern":
        accounts = Accounts(**{**accounts.__dict__, "mailbox_pattern": None})
    else:
        nothing = np.full(len(log), MISSING, dtype=np.int64)
        log = VoteLog(**{**log.__dict__, "ip_prefix": nothing, "device": nothing.copy()})
    assert scan(log, accounts) == []


def test_colleagues_voting_from_the_office_over_a_day_are_not_flagged() -> None:
    b = Builder()
    b.background()
    office = b.code()
    day = T0 + 2 * DAY
    for _ in range(20):
        uid = b.account()
        device = b.code()
        at_work = day + float(b.rng.uniform(9 * HOUR, 18 * HOUR))
        b.vote(uid, 45, at_work, prefix=office, device=device)
        for idea in (1, 2, 3):  # a life of their own: votes at home on other days
            b.vote(uid, idea, b.human_time(), prefix=b.code(), device=device)
    assert scan(*b.build()) == []


def test_one_account_is_in_one_finding_and_evidence_is_json() -> None:
    b = Builder()
    b.background()
    members = ring(b, size=25, targets=[40, 41, 42], at=T0 + 3 * DAY + 20 * HOUR, camouflage=2)
    # A second ring on other ideas, another day, five of whose members are also in the first.
    others = ring(b, size=20, targets=[50, 51], at=T0 + 5 * DAY + 20 * HOUR, camouflage=0)
    start = T0 + 5 * DAY + 20 * HOUR
    for k, uid in enumerate(sorted(members)[:5]):
        for idea in (50, 51):
            b.vote(uid, idea, start + 600 + 60 * k + idea, prefix=b.code(), device=b.code())
    findings = scan(*b.build())
    assert [f.score for f in findings] == sorted((f.score for f in findings), reverse=True)
    seen: set[int] = set()
    for f in findings:
        assert not f.voter_ids & seen
        seen |= f.voter_ids
        assert json.loads(json.dumps(f.evidence)) == f.evidence
    assert members | others == seen
    first, second = sorted(findings, key=lambda f: min(f.idea_ids))
    assert first.voter_ids == members and first.idea_ids == {40, 41, 42}
    # The five shared accounts stay with the first ring (their votes too).
    assert second.voter_ids == others and second.idea_ids == {50, 51}
    assert second.evidence["accounts_in_other_findings"] == 5
    assert not first.vote_ids & second.vote_ids
