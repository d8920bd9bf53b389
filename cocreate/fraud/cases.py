"""Fraud cases: load a round's vote log, store what the detectors find, and decide cases.

The loader turns the round's live votes into the columnar `VoteLog` straight from the DB-API
cursor (no ORM objects: a million votes load in seconds), text signals factorised into codes
with a reverse map kept for the evidence. `store_findings` turns findings into cases: a
finding that matches a case already opened (same fingerprint, or mostly the same accounts)
updates it, so re-running the scan never duplicates cases.

Decisions change votes with set-based UPDATEs joined on `fraud_case_votes`, in one
transaction with the per-idea tallies, so the live tally always equals a recount:

- void: counted and held votes of the case become `void` (the previous status is kept on the
  case-vote row); counted ones leave the tally;
- restore: undoes a void exactly; votes that were counted count again;
- clear: no fraud, nothing changes but the case;
- suspend: the case's accounts are disabled and signed out (reversible: unsuspend).

Every decision is a conditional UPDATE of the case's status, so two moderators deciding the
same case at once give exactly one decision. A certified round's votes never change.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import func, text, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.audit.service import record
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign, Stage
from cocreate.campaigns.timeline import stage_name
from cocreate.db import begin_write, stream_rows
from cocreate.fraud.detectors import scan
from cocreate.fraud.log import (
    MISSING,
    Accounts,
    Finding,
    FindingKind,
    VoteLog,
    canonical_mailbox,
    mailbox_pattern,
)
from cocreate.fraud.models import CaseStatus, FraudCase, FraudCaseVote
from cocreate.fraud.risk import is_disposable
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.voting.models import IdeaTally, Round, Vote, VoteStatus
from cocreate.voting.service import adjust_tally

# An open case scoring at least this blocks the certification of its round until a moderator
# decides it (void or clear). Below it, a case is shown for review but does not block.
GATE_SCORE = 0.5

ID_BATCH = 5_000  # ids per IN (...) list
TIMELINE_BINS = 48
MAX_LISTED = 200  # cases on one page of the list
MAX_ACCOUNTS_SHOWN = 300
REASON_MAX = 500
MATCH_OVERLAP = 0.5  # Jaccard similarity of two accounts sets that makes them one group
ADVISORY_SPACE = 6_006  # first key of the PostgreSQL advisory lock of a round's case store

VOTES = Vote.__table__  # type: ignore[attr-defined]
CASES = FraudCase.__table__  # type: ignore[attr-defined]
CASE_VOTES = FraudCaseVote.__table__  # type: ignore[attr-defined]
TALLIES = IdeaTally.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]

SIGNALS = ("ip", "ip_prefix", "device", "user_agent")
ACCOUNT_SIGNALS = ("mailbox", "mailbox_pattern", "email_domain")
LIVE = (VoteStatus.COUNTED.value, VoteStatus.HELD.value)


class Refused(Exception):
    """The decision cannot be made; `message` is already in the user's language."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _batches(values: Sequence[int], size: int = ID_BATCH) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- Loading the vote log --------------------------------------------------------------------


class _Codes:
    """Value -> integer code, None -> MISSING; `values[code]` gives the value back."""

    def __init__(self) -> None:
        self._codes: dict[str | None, int] = {None: MISSING}
        self.values: list[str] = []

    def encode(self, column: Iterable[str | None]) -> list[int]:
        codes = self._codes
        out = []
        for value in column:
            code = codes.get(value)
            if code is None:
                code = codes[value] = len(self.values)
                self.values.append(value)  # type: ignore[arg-type]  # None is pre-seeded
            out.append(code)
        return out


class RoundLog:
    """A round's log and accounts, and the way back from a signal's code to its value.

    `value(signal, code)` gives the raw value (a hash, a user agent, a mailbox; see
    `display_value` for what may be shown). Values come from `values` when the loader kept
    them all; on PostgreSQL, from the database on first use, through one vote that holds the
    code (only the few codes a finding's evidence names are ever looked up).
    """

    def __init__(
        self,
        log: VoteLog,
        accounts: Accounts,
        values: dict[str, list[str]],
        fetch: Callable[[str, int], str | None] | None = None,
    ) -> None:
        self.log = log
        self.accounts = accounts
        self.values = values
        self._fetch = fetch
        self._cache: dict[tuple[str, int], str | None] = {}

    def value(self, signal: str, code: int) -> str | None:
        if code == MISSING:
            return None
        table = self.values.get(signal)
        if table is not None:
            return table[code] if 0 <= code < len(table) else None
        if self._fetch is None:
            return None
        key = (signal, code)
        if key not in self._cache:
            self._cache[key] = self._fetch(signal, code)
        return self._cache[key]


def _epoch(session: Session, column: Any) -> Any:
    """Seconds since the Unix epoch, computed by the database (no datetime per row)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" in UTC (UTCDateTime)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _live_votes(round_id: int) -> Any:
    return (
        (VOTES.c.round_id == round_id) & VOTES.c.status.in_(LIVE) & VOTES.c.withdrawn_at.is_(None)
    )


SIGNAL_COLUMNS = {
    "ip": "ip_hash",
    "ip_prefix": "ip_prefix_hash",
    "device": "device_id",
    "user_agent": "user_agent",
}
# One vote as the database packs it for the PostgreSQL loader: eight big-endian 8-byte numbers.
_PACKED = np.dtype(
    [("vote_id", ">i8"), ("voter", ">i8"), ("idea", ">i8"), ("at", ">f8")]
    + [(signal, ">i8") for signal in SIGNALS]
)
_NULL = -(2**63)  # stands for a missing signal in the packed rows
_PACK_GROUP = 16_384  # votes per packed chunk: one bytea value of about 1 MB


def _dense(hashes: Any) -> Any:
    """64-bit hashes of a signal's values -> codes 0..n-1 (equal hash, equal code), -1 for
    missing. A collision of two values' 64-bit hashes is negligible (1e-8 at a million)."""
    unique, inverse = np.unique(hashes, return_inverse=True)
    codes = inverse.astype(np.int64)
    if unique.shape[0] and unique[0] == _NULL:  # sorted: the null stand-in comes first
        codes -= 1
    return codes


def _votes_postgresql(session: Session, round_id: int) -> tuple[VoteLog, Any]:
    """PostgreSQL: each vote packed by the database into 64 bytes (text signals as their
    64-bit `hashtextextended`), 16,384 votes to a bytea value, read by NumPy in one call.
    No Python object per vote, no join, no sort: a million votes in about two seconds."""
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    live = (
        f"votes.round_id = {int(round_id)} AND votes.status IN ('counted', 'held') "
        "AND votes.withdrawn_at IS NULL"
    )
    packed = " || ".join(
        [
            "int8send(votes.id::int8)",
            "int8send(votes.voter_id::int8)",
            "int8send(votes.idea_id::int8)",
            "float8send(extract(epoch FROM votes.cast_at)::float8)",
            *(
                f"int8send(coalesce(hashtextextended(votes.{SIGNAL_COLUMNS[s]}, 0), {_NULL}))"
                for s in SIGNALS
            ),
        ]
    )
    cursor = dbapi.cursor()
    try:
        cursor.execute(  # type: ignore[call-arg]  # psycopg's cursor: binary results
            f"SELECT string_agg({packed}, ''::bytea) FROM votes WHERE {live} "
            f"GROUP BY votes.id / {_PACK_GROUP}",
            binary=True,
        )
        data = b"".join(bytes(row[0]) for row in cursor.fetchall())  # psycopg: bytes
    finally:
        cursor.close()
    rows = np.frombuffer(data, dtype=_PACKED)
    order = np.argsort(rows["vote_id"], kind="stable")  # id order, as on SQLite

    def pick(name: str, dtype: Any) -> Any:
        return np.ascontiguousarray(rows[name][order], dtype=dtype)

    log = VoteLog(
        vote_id=pick("vote_id", np.int64),
        voter=pick("voter", np.int64),
        idea=pick("idea", np.int64),
        at=pick("at", np.float64),
        ip=_dense(pick("ip", np.int64)),
        ip_prefix=_dense(pick("ip_prefix", np.int64)),
        device=_dense(pick("device", np.int64)),
        user_agent=_dense(pick("user_agent", np.int64)),
    )
    firsts: dict[str, dict[int, int]] = {}

    def fetch(signal: str, code: int) -> str | None:
        """The value of a code, read from one vote that holds it."""
        if signal not in SIGNAL_COLUMNS:
            return None
        if signal not in firsts:
            codes, index = np.unique(getattr(log, signal), return_index=True)
            firsts[signal] = dict(zip(codes.tolist(), index.tolist(), strict=True))
        first = firsts[signal].get(code)
        if first is None:
            return None
        column = VOTES.c[SIGNAL_COLUMNS[signal]]
        found = session.execute(
            core_select(column).where(VOTES.c.id == int(log.vote_id[first]))
        ).scalar()
        return None if found is None else str(found)

    return log, fetch


def _votes_streamed(session: Session, round_id: int, codes: dict[str, _Codes]) -> VoteLog:
    """Any database: rows streamed from the DB-API cursor, signals factorised in Python."""
    ids: list[int] = []
    voters: list[int] = []
    ideas: list[int] = []
    at: list[float] = []
    signal_codes: dict[str, list[int]] = {name: [] for name in SIGNALS}
    statement = (
        core_select(
            VOTES.c.id,
            VOTES.c.voter_id,
            VOTES.c.idea_id,
            _epoch(session, VOTES.c.cast_at),
            VOTES.c.ip_hash,
            VOTES.c.ip_prefix_hash,
            VOTES.c.device_id,
            VOTES.c.user_agent,
        )
        .where(_live_votes(round_id))
        .order_by(VOTES.c.id)
    )
    for rows in stream_rows(session, statement, "fraud_log"):
        columns = list(zip(*rows, strict=True))
        ids.extend(columns[0])
        voters.extend(columns[1])
        ideas.extend(columns[2])
        at.extend(float(t) for t in columns[3])
        for name, column in zip(SIGNALS, columns[4:], strict=True):
            signal_codes[name].extend(codes[name].encode(column))
    return VoteLog(
        vote_id=np.asarray(ids, dtype=np.int64),
        voter=np.asarray(voters, dtype=np.int64),
        idea=np.asarray(ideas, dtype=np.int64),
        at=np.asarray(at, dtype=np.float64),
        ip=np.asarray(signal_codes["ip"], dtype=np.int64),
        ip_prefix=np.asarray(signal_codes["ip_prefix"], dtype=np.int64),
        device=np.asarray(signal_codes["device"], dtype=np.int64),
        user_agent=np.asarray(signal_codes["user_agent"], dtype=np.int64),
    )


def _voters(session: Session, round_id: int, log: VoteLog) -> Iterable[Sequence[Any]]:
    """(id, created_at in epoch seconds, verified, email) of the log's voters, in batches."""
    if session.get_bind().dialect.name == "postgresql":
        # The voters are known from the log already: no second pass over the votes.
        dbapi = session.connection().connection.dbapi_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        try:
            cursor.execute(
                "SELECT id, extract(epoch FROM created_at)::float8, "
                "email_verified_at IS NOT NULL, email FROM users WHERE id = ANY(%s) ORDER BY id",
                (np.unique(log.voter).tolist(),),
            )
            yield cursor.fetchall()
        finally:
            cursor.close()
        return
    voting = core_select(VOTES.c.voter_id).where(_live_votes(round_id)).distinct()
    yield from stream_rows(
        session,
        core_select(
            USERS.c.id,
            _epoch(session, USERS.c.created_at),
            USERS.c.email_verified_at.is_not(None),
            USERS.c.email,
        )
        .where(USERS.c.id.in_(voting))
        .order_by(USERS.c.id),
        "fraud_accounts",
    )


def read_round_log(*, session: Session, round_id: int) -> RoundLog:
    """The round's live votes (counted or held, not withdrawn), in id order, and their voters."""
    codes = {name: _Codes() for name in (*SIGNALS, *ACCOUNT_SIGNALS)}
    fetch = None
    vote_values: dict[str, list[str]] = {}
    if session.get_bind().dialect.name == "postgresql":
        log, fetch = _votes_postgresql(session, round_id)
    else:
        log = _votes_streamed(session, round_id, codes)
        vote_values = {name: codes[name].values for name in SIGNALS}
    user_ids: list[int] = []
    created: list[float] = []
    verified: list[bool] = []
    mailboxes: list[str | None] = []
    patterns: list[str | None] = []
    domains: list[str | None] = []
    disposable: list[bool] = []
    for rows in _voters(session, round_id, log):
        for user_id, created_at, is_verified, email in rows:
            user_ids.append(user_id)
            created.append(float(created_at))
            verified.append(bool(is_verified))
            # A deleted account keeps no address: its signals are missing.
            mailboxes.append(canonical_mailbox(email) if email else None)
            patterns.append((mailbox_pattern(email) or None) if email else None)
            domains.append(email.rpartition("@")[2].lower() if email else None)
            disposable.append(is_disposable(email))
    accounts = Accounts(
        user_id=np.asarray(user_ids, dtype=np.int64),
        created_at=np.asarray(created, dtype=np.float64),
        verified=np.asarray(verified, dtype=np.bool_),
        mailbox=np.asarray(codes["mailbox"].encode(mailboxes), dtype=np.int64),
        email_domain=np.asarray(codes["email_domain"].encode(domains), dtype=np.int64),
        disposable=np.asarray(disposable, dtype=np.bool_),
        mailbox_pattern=np.asarray(codes["mailbox_pattern"].encode(patterns), dtype=np.int64),
    )
    values = {name: codes[name].values for name in ACCOUNT_SIGNALS}
    return RoundLog(log, accounts, {**vote_values, **values}, fetch)


def load_round_log(*, session: Session, round_id: int) -> tuple[VoteLog, Accounts]:
    loaded = read_round_log(session=session, round_id=round_id)
    return loaded.log, loaded.accounts


# --- Evidence that is safe to show -----------------------------------------------------------


def display_value(signal: str, value: str) -> str:
    """What a moderator may see of a signal: hash prefixes, a masked mailbox, a short agent."""
    if signal in ("ip", "ip_prefix", "device"):
        return value[:10] + ("…" if len(value) > 10 else "")
    if signal in ("mailbox", "mailbox_pattern"):
        local, _at, domain = value.rpartition("@")
        return f"{local[:1]}…@{domain}" if local else "…"
    return value[:120]


def _signal_of(key: str) -> str:
    """ "ip_prefixes", "device_codes", "mailbox" ... -> the signal a key holds codes of, or ""."""
    name = key.lower()
    for suffix in ("_codes", "_code", "_hashes", "_hash", "_ids", "_id"):
        name = name.removesuffix(suffix)
    for candidate in (name, name.removesuffix("es"), name.removesuffix("s")):
        if candidate in (*SIGNALS, *ACCOUNT_SIGNALS):
            return candidate
    return ""


def _decode(loaded: RoundLog, signal: str, code: Any) -> Any:
    if isinstance(code, bool) or not isinstance(code, int | np.integer):
        return None
    value = loaded.value(signal, int(code))
    return None if value is None else display_value(signal, value)


TIME_KEYS = ("start", "end", "at", "first", "last", "from", "to")


def _safe_signal(value: Any, loaded: RoundLog, signal: str, depth: int) -> Any:
    """Under a signal's key: codes (alone, in lists, or as the "code" of a dict) decoded."""
    if isinstance(value, list | tuple | set | frozenset):
        return [_safe_signal(v, loaded, signal, depth + 1) for v in list(value)[:50]]
    if isinstance(value, dict):
        return {
            str(k)[:60]: _decode(loaded, signal, v)
            if k == "code"
            else _safe(v, loaded, str(k), depth + 1)
            for k, v in list(value.items())[:50]
        }
    return _decode(loaded, signal, value)


def _safe(value: Any, loaded: RoundLog, key: str = "", depth: int = 0) -> Any:
    """The detector's evidence made JSON-ready and display-safe: signal codes mapped back to
    shortened values, long lists cut, no raw hash anywhere."""
    if depth > 5:
        return None
    signal = _signal_of(key)
    if signal:
        return _safe_signal(value, loaded, signal, depth)
    if key in TIME_KEYS and isinstance(value, int | float) and not isinstance(value, bool):
        if 1e8 < value < 1e11:  # seconds since the epoch: shown as a UTC time
            return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, dict):
        return {
            str(k)[:60]: _safe(v, loaded, str(k), depth + 1) for k, v in list(value.items())[:50]
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else list(value)
        return [_safe(v, loaded, "", depth + 1) for v in items[:50]]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return round(number, 4) if math.isfinite(number) else None
    if isinstance(value, str):
        if len(value) >= 32 and all(c in "0123456789abcdef" for c in value):
            return value[:10] + "…"  # looks like a hash: a prefix only
        return value[:200]
    return str(value)[:200]


def _shared_signals(loaded: RoundLog, finding: Finding) -> dict[str, Any]:
    """For each signal, the values that two or more of the case's accounts share."""
    log, accounts = loaded.log, loaded.accounts
    mask = np.isin(log.vote_id, np.fromiter(finding.vote_ids, dtype=np.int64))
    voters = log.voter[mask]
    shared: dict[str, Any] = {}
    for signal in SIGNALS:
        column = getattr(log, signal)[mask]
        keep = column != MISSING
        pairs = np.unique(np.stack([column[keep], voters[keep]]), axis=1) if keep.any() else None
        if pairs is None or pairs.size == 0:
            continue
        code_of_pair = pairs[0]
        codes, counts = np.unique(code_of_pair, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        rows = [
            {
                "value": _decode(loaded, signal, int(codes[i])),
                "accounts": int(counts[i]),
                "votes": int(np.count_nonzero(column == codes[i])),
            }
            for i in order[:5]
            if counts[i] >= 2
        ]
        if rows:
            shared[signal] = rows
    members = np.isin(accounts.user_id, np.fromiter(finding.voter_ids, dtype=np.int64))
    for signal in ACCOUNT_SIGNALS:
        full = getattr(accounts, signal)
        if full is None:  # mailbox_pattern is optional
            continue
        column = full[members]
        column = column[column != MISSING]
        if column.size == 0:
            continue
        codes, counts = np.unique(column, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        rows = [
            {"value": _decode(loaded, signal, int(codes[i])), "accounts": int(counts[i])}
            for i in order[:5]
            if counts[i] >= 2
        ]
        if rows:
            shared[signal] = rows
    if members.any():
        created = accounts.created_at[members]
        shared["signed_up"] = {
            "first": datetime.fromtimestamp(float(created.min()), UTC).isoformat(),
            "last": datetime.fromtimestamp(float(created.max()), UTC).isoformat(),
            "unverified": int(np.count_nonzero(~accounts.verified[members])),
            "disposable": int(np.count_nonzero(accounts.disposable[members])),
        }
    return shared


def _evidence(loaded: RoundLog, finding: Finding) -> dict[str, Any]:
    return {
        "detector": _safe(dict(finding.evidence), loaded),
        "shared": _shared_signals(loaded, finding),
    }


# --- Storing findings as cases ---------------------------------------------------------------


def fingerprint(kind: str, voter_ids: Iterable[int], idea_ids: Iterable[int]) -> str:
    text = f"{kind}|{','.join(map(str, sorted(voter_ids)))}|{','.join(map(str, sorted(idea_ids)))}"
    return hashlib.sha256(text.encode()).hexdigest()


def _overlap(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _same_group(case: FraudCase, finding: Finding, print_: str) -> bool:
    if case.kind != finding.kind.value:
        return False
    if case.fingerprint == print_:
        return True
    if finding.kind == FindingKind.BURST:  # a burst is about its idea
        return set(case.idea_ids) == set(finding.idea_ids) and (
            _overlap(set(case.voter_ids), set(finding.voter_ids)) >= MATCH_OVERLAP
        )
    return _overlap(set(case.voter_ids), set(finding.voter_ids)) >= MATCH_OVERLAP


@dataclass
class StoreSummary:
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    already_decided: int = 0  # findings whose every vote a moderator has decided already


def _case_vote_ids(session: Session, case_ids: Sequence[int]) -> set[int]:
    if not case_ids:
        return set()
    rows = session.execute(
        core_select(CASE_VOTES.c.vote_id).where(CASE_VOTES.c.case_id.in_(case_ids))
    )
    return {int(v) for (v,) in rows}


def _add_case_votes(session: Session, case_id: int, vote_ids: Iterable[int]) -> None:
    rows = [{"case_id": case_id, "vote_id": v} for v in sorted(vote_ids)]
    for start in range(0, len(rows), ID_BATCH):
        session.execute(
            _insert(session)(FraudCaseVote)
            .values(rows[start : start + ID_BATCH])
            .on_conflict_do_nothing(index_elements=["case_id", "vote_id"])
        )


def store_findings(
    *,
    session: Session,
    round_: Round,
    loaded: RoundLog,
    findings: Sequence[Finding],
    now: datetime,
) -> StoreSummary:
    """Open a case per new finding; update the open case a finding matches. Commits.

    A finding that matches decided cases only (voided or cleared) opens a follow-up case
    with the votes no moderator has decided yet, or nothing when there are none.
    """
    round_id = _id(round_.id)
    begin_write(session)
    if session.get_bind().dialect.name == "postgresql":
        # Two scans of one round at once (the command and a certification) take turns: the
        # second sees the first one's cases instead of colliding on their fingerprints.
        # An advisory lock, not the round's row: votes keep flowing meanwhile.
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :round)"),
            {"space": ADVISORY_SPACE, "round": round_id},
        )
    cases = list(session.exec(select(FraudCase).where(FraudCase.round_id == round_id)).all())
    prints = {case.fingerprint for case in cases}
    summary = StoreSummary()
    for finding in sorted(findings, key=lambda f: -f.score):
        print_ = fingerprint(finding.kind.value, finding.voter_ids, finding.idea_ids)
        matches = [case for case in cases if _same_group(case, finding, print_)]
        open_case = next((c for c in matches if c.status == CaseStatus.OPEN), None)
        score = min(1.0, max(0.0, float(finding.score)))
        decided = [_id(c.id) for c in matches if c.status != CaseStatus.OPEN]
        if open_case is not None:
            case_id = _id(open_case.id)
            # A follow-up case never takes back votes a moderator has decided already.
            wanted = set(finding.vote_ids) - _case_vote_ids(session, decided)
            if open_case.fingerprint != print_ and print_ not in prints:
                prints.discard(open_case.fingerprint)
                open_case.fingerprint = print_
                prints.add(print_)
            open_case.score = score
            open_case.voter_ids = sorted(finding.voter_ids)
            open_case.idea_ids = sorted(finding.idea_ids)
            open_case.evidence = _evidence(loaded, finding)
            open_case.scanned_at = now
            held = _case_vote_ids(session, [case_id])
            gone = sorted(held - wanted)
            for batch in _batches(gone):
                session.execute(
                    CASE_VOTES.delete().where(
                        CASE_VOTES.c.case_id == case_id,
                        CASE_VOTES.c.vote_id.in_(batch),
                        CASE_VOTES.c.previous_status.is_(None),
                    )
                )
            _add_case_votes(session, case_id, wanted - held)
            open_case.votes = len(wanted)
            session.add(open_case)
            summary.updated.append(case_id)
            continue
        vote_ids = set(finding.vote_ids)
        if matches:
            vote_ids -= _case_vote_ids(session, [_id(c.id) for c in matches])
            if not vote_ids:
                summary.already_decided += 1
                continue
            print_ = hashlib.sha256(
                (print_ + "|after|" + ",".join(str(c.id) for c in matches)).encode()
            ).hexdigest()
        if print_ in prints:  # the follow-up of these decided cases exists already
            summary.already_decided += 1
            continue
        case = FraudCase(
            round_id=round_id,
            campaign_id=round_.campaign_id,
            kind=finding.kind.value,
            score=score,
            fingerprint=print_,
            voter_ids=sorted(finding.voter_ids),
            idea_ids=sorted(finding.idea_ids),
            votes=len(vote_ids),
            evidence=_evidence(loaded, finding),
            opened_at=now,
            scanned_at=now,
        )
        session.add(case)
        session.flush()
        _add_case_votes(session, _id(case.id), vote_ids)
        cases.append(case)
        prints.add(print_)
        summary.opened.append(_id(case.id))
    session.commit()
    return summary


Scanner = Callable[[VoteLog, Accounts], list[Finding]]


def default_scanner() -> Scanner:
    """The detectors of `cocreate.fraud.detectors` with their default thresholds."""

    def scanner(log: VoteLog, accounts: Accounts) -> list[Finding]:
        return scan(log, accounts)

    return scanner


@dataclass(frozen=True)
class ScanSummary:
    round_id: int
    votes: int
    accounts: int
    findings: int
    opened: int
    updated: int
    already_decided: int
    by_kind: dict[str, list[float]]  # kind -> scores of the round's open cases, highest first
    load_seconds: float
    scan_seconds: float
    store_seconds: float


def scan_round(
    *, session: Session, round_: Round, now: datetime, scanner: Scanner | None = None
) -> ScanSummary:
    """Load the round's log, run the detectors, store the findings as cases. Commits."""
    round_id = _id(round_.id)
    started = time.perf_counter()
    loaded = read_round_log(session=session, round_id=round_id)
    loaded_at = time.perf_counter()
    findings = (scanner or default_scanner())(loaded.log, loaded.accounts)
    scanned_at = time.perf_counter()
    stored = store_findings(
        session=session, round_=round_, loaded=loaded, findings=findings, now=now
    )
    stored_at = time.perf_counter()
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, score in session.execute(
        core_select(CASES.c.kind, CASES.c.score)
        .where(CASES.c.round_id == round_id, CASES.c.status == CaseStatus.OPEN.value)
        .order_by(CASES.c.score.desc())
    ):
        by_kind[kind].append(float(score))
    session.commit()
    return ScanSummary(
        round_id=round_id,
        votes=len(loaded.log),
        accounts=len(loaded.accounts),
        findings=len(findings),
        opened=len(stored.opened),
        updated=len(stored.updated),
        already_decided=stored.already_decided,
        by_kind=dict(by_kind),
        load_seconds=loaded_at - started,
        scan_seconds=scanned_at - loaded_at,
        store_seconds=stored_at - scanned_at,
    )


# --- The certification gate ------------------------------------------------------------------


def blocking_cases(*, session: Session, round_id: int) -> list[FraudCase]:
    """Open cases of the round that score at least `GATE_SCORE`, highest first."""
    return list(
        session.exec(
            select(FraudCase)
            .where(
                FraudCase.round_id == round_id,
                FraudCase.status == CaseStatus.OPEN,
                FraudCase.score >= GATE_SCORE,
            )
            .order_by(col(FraudCase.score).desc(), col(FraudCase.id))
        ).all()
    )


# --- Finding and showing cases ---------------------------------------------------------------


def kind_label(kind: str) -> str:
    labels = {
        FindingKind.RING.value: _("Lockstep ring"),
        FindingKind.SOCKPUPPETS.value: _("Sockpuppet cluster"),
        FindingKind.BURST.value: _("Vote burst"),
    }
    return labels.get(kind, kind)


def status_label(status: str) -> str:
    labels = {
        CaseStatus.OPEN.value: _("Open"),
        CaseStatus.VOIDED.value: _("Votes void"),
        CaseStatus.CLEARED.value: _("Cleared"),
    }
    return labels.get(status, status)


def signal_label(signal: str) -> str:
    labels = {
        "ip": _("Network address (hash)"),
        "ip_prefix": _("Network prefix (hash)"),
        "device": _("Device"),
        "user_agent": _("Browser (user agent)"),
        "mailbox": _("Mailbox"),
        "mailbox_pattern": _("Mailbox pattern (numbers dropped)"),
        "signup": _("Sign-up time"),
        "email_domain": _("Email domain"),
    }
    return labels.get(signal, signal)


@dataclass(frozen=True)
class RoundChoice:
    round_id: int
    label: str


@dataclass(frozen=True)
class CaseRow:
    case: FraudCase
    campaign: Campaign
    round_label: str


def brand_rounds(*, session: Session, brand: Brand) -> list[RoundChoice]:
    """The brand's voting rounds, for the filter: "campaign — stage"."""
    rows = session.exec(
        select(Round, Stage, Campaign)
        .join(Stage, col(Stage.id) == Round.stage_id)
        .join(Campaign, col(Campaign.id) == Round.campaign_id)
        .where(Campaign.brand_id == brand.id)
        .order_by(col(Campaign.title), col(Stage.position))
    ).all()
    return [RoundChoice(_id(r.id), f"{c.title} — {stage_name(s)}") for r, s, c in rows]


def list_cases(
    *,
    session: Session,
    brand: Brand,
    round_id: int | None = None,
    status: str | None = None,
    kind: str | None = None,
) -> list[CaseRow]:
    statement = (
        select(FraudCase, Campaign, Stage)
        .join(Campaign, col(Campaign.id) == FraudCase.campaign_id)
        .join(Round, col(Round.id) == FraudCase.round_id)
        .join(Stage, col(Stage.id) == Round.stage_id)
        .where(Campaign.brand_id == brand.id)
    )
    if round_id is not None:
        statement = statement.where(FraudCase.round_id == round_id)
    if status is not None:
        statement = statement.where(FraudCase.status == status)
    if kind is not None:
        statement = statement.where(FraudCase.kind == kind)
    statement = statement.order_by(
        col(FraudCase.score).desc(), col(FraudCase.opened_at).desc(), col(FraudCase.id)
    ).limit(MAX_LISTED)
    return [
        CaseRow(case, campaign, f"{campaign.title} — {stage_name(stage)}")
        for case, campaign, stage in session.exec(statement).all()
    ]


def get_case(*, session: Session, brand: Brand, case_id: int) -> CaseRow | None:
    """The case when it belongs to one of the brand's campaigns, else None."""
    row = session.exec(
        select(FraudCase, Campaign, Stage)
        .join(Campaign, col(Campaign.id) == FraudCase.campaign_id)
        .join(Round, col(Round.id) == FraudCase.round_id)
        .join(Stage, col(Stage.id) == Round.stage_id)
        .where(FraudCase.id == case_id, Campaign.brand_id == brand.id)
    ).first()
    if row is None:
        return None
    case, campaign, stage = row
    return CaseRow(case, campaign, f"{campaign.title} — {stage_name(stage)}")


@dataclass(frozen=True)
class AccountRow:
    user_id: int
    display_name: str
    age_days: int
    verified: bool
    suspended: bool
    votes: int  # votes of this account in the case


@dataclass(frozen=True)
class IdeaRow:
    idea_id: int
    title: str
    case_votes: int
    counted: int  # the idea's counted votes in the round now


@dataclass(frozen=True)
class Bar:
    start: datetime
    targets: int  # votes for the case's ideas
    others: int  # the group's other votes (camouflage)


@dataclass(frozen=True)
class CaseDetail:
    accounts: list[AccountRow]
    more_accounts: int
    ideas: list[IdeaRow]
    statuses: dict[str, int]  # counted / held / void / withdrawn votes of the case
    timeline: list[Bar]
    bin_seconds: float
    timeline_max: int


def case_detail(*, session: Session, case: FraudCase, now: datetime) -> CaseDetail:
    case_id = _id(case.id)
    in_case = VOTES.c.id.in_(
        core_select(CASE_VOTES.c.vote_id).where(CASE_VOTES.c.case_id == case_id)
    )
    rows = session.execute(
        core_select(
            VOTES.c.voter_id,
            VOTES.c.idea_id,
            VOTES.c.status,
            VOTES.c.withdrawn_at.is_not(None),
            _epoch(session, VOTES.c.cast_at),
        ).where(in_case)
    ).all()
    per_voter: Counter[int] = Counter()
    per_idea: Counter[int] = Counter()
    statuses: Counter[str] = Counter()
    times: list[tuple[float, bool]] = []
    targets = set(case.idea_ids)
    for voter_id, idea_id, status, withdrawn, at in rows:
        per_voter[voter_id] += 1
        per_idea[idea_id] += 1
        statuses["withdrawn" if withdrawn else status] += 1
        times.append((float(at), idea_id in targets))
    shown = sorted(case.voter_ids, key=lambda v: (-per_voter[v], v))[:MAX_ACCOUNTS_SHOWN]
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(shown))).all()}
    accounts = [
        AccountRow(
            user_id=v,
            display_name=users[v].display_name if v in users else "?",
            age_days=max(0, (now - users[v].created_at).days) if v in users else 0,
            verified=users[v].is_verified if v in users else False,
            suspended=users[v].disabled if v in users else False,
            votes=per_voter[v],
        )
        for v in shown
    ]
    idea_ids = sorted(targets, key=lambda i: (-per_idea[i], i))
    ideas_table = Idea.__table__  # type: ignore[attr-defined]
    titles: dict[int, str] = {
        int(i): str(t)
        for i, t in session.execute(
            core_select(ideas_table.c.id, ideas_table.c.title).where(ideas_table.c.id.in_(idea_ids))
        )
    }
    counted = dict(
        session.execute(
            core_select(TALLIES.c.idea_id, TALLIES.c.votes).where(
                TALLIES.c.round_id == case.round_id, TALLIES.c.idea_id.in_(idea_ids)
            )
        ).all()
    )
    ideas = [
        IdeaRow(i, str(titles.get(i, "?")), per_idea[i], int(counted.get(i, 0))) for i in idea_ids
    ]
    timeline, width = _timeline(times)
    return CaseDetail(
        accounts=accounts,
        more_accounts=max(0, len(case.voter_ids) - len(shown)),
        ideas=ideas,
        statuses=dict(statuses),
        timeline=timeline,
        bin_seconds=width,
        timeline_max=max((b.targets + b.others for b in timeline), default=0),
    )


def _timeline(times: Sequence[tuple[float, bool]]) -> tuple[list[Bar], float]:
    """The case's votes in `TIMELINE_BINS` equal slices of time, from the first to the last."""
    if not times:
        return [], 0.0
    start = min(t for t, _target in times)
    end = max(t for t, _target in times)
    width = max((end - start) / TIMELINE_BINS, 1.0)
    bins = min(TIMELINE_BINS, int((end - start) // width) + 1)
    targets = [0] * bins
    others = [0] * bins
    for at, target in times:
        index = min(bins - 1, int((at - start) // width))
        if target:
            targets[index] += 1
        else:
            others[index] += 1
    return [
        Bar(datetime.fromtimestamp(start + i * width, UTC), targets[i], others[i])
        for i in range(bins)
    ], width


# --- Decisions -------------------------------------------------------------------------------


def _reason(reason: str) -> str:
    cleaned = " ".join(reason.split())[:REASON_MAX]
    if not cleaned:
        raise Refused(_("Give a reason: it is kept with the decision."), status=400)
    return cleaned


def _optional(reason: str) -> str | None:
    return " ".join(reason.split())[:REASON_MAX] or None


def lock_round(session: Session, round_id: int, *, refused_if_certified: str | None) -> Round:
    """The round, share-locked on PostgreSQL so that certification (which takes the row
    for update) waits for this decision, and this decision for certification. With
    `refused_if_certified`, a certified round rolls back and refuses with that message."""
    found = session.exec(
        select(Round)
        .where(Round.id == round_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).one()
    if refused_if_certified is not None and found.certified_at is not None:
        session.rollback()
        raise Refused(refused_if_certified)
    return found


def _certified_votes_stay() -> str:
    return _(
        "The results of this round are certified: its votes can no longer change. "
        "The case can still be cleared, and its accounts suspended."
    )


def _decide(
    session: Session,
    case: FraudCase,
    *,
    from_status: CaseStatus,
    to_status: CaseStatus,
    actor_id: int,
    reason: str | None,
    now: datetime,
) -> None:
    """The conditional UPDATE that lets exactly one of two racing moderators decide."""
    changed = session.execute(
        update(CASES)
        .where(CASES.c.id == case.id, CASES.c.status == from_status.value)
        .values(
            status=to_status.value,
            decided_by_id=actor_id,
            decided_at=now,
            decision_reason=reason,
        )
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Refused(_("Someone else has just decided this case. Here is its current state."))


def _adjust_tallies(session: Session, round_id: int, deltas: dict[int, tuple[int, int]]) -> None:
    """Add (votes, points) per idea to the live tally, in the caller's transaction."""
    for idea, (votes, points) in sorted(deltas.items()):  # one order: no deadlock between two
        adjust_tally(session=session, round_id=round_id, idea_id=idea, votes=votes, points=points)


def _in_case(case_id: int, previous: str | None = None) -> Any:
    chosen = core_select(CASE_VOTES.c.vote_id).where(CASE_VOTES.c.case_id == case_id)
    if previous is not None:
        chosen = chosen.where(CASE_VOTES.c.previous_status == previous)
    return VOTES.c.id.in_(chosen)


def _mark_previous(session: Session, case_id: int, vote_ids: Sequence[int], status: str) -> None:
    for batch in _batches(sorted(vote_ids)):
        session.execute(
            update(CASE_VOTES)
            .where(CASE_VOTES.c.case_id == case_id, CASE_VOTES.c.vote_id.in_(batch))
            .values(previous_status=status)
        )


@dataclass(frozen=True)
class Decision:
    case: FraudCase
    votes_changed: int
    accounts_changed: int = 0


def void_case(
    *, session: Session, case: FraudCase, actor_id: int, reason: str, now: datetime
) -> Decision:
    """Void the case's live votes; counted ones leave the tally in the same transaction."""
    reason = _reason(reason)
    case_id = _id(case.id)
    begin_write(session)
    lock_round(session, case.round_id, refused_if_certified=_certified_votes_stay())
    _decide(
        session,
        case,
        from_status=CaseStatus.OPEN,
        to_status=CaseStatus.VOIDED,
        actor_id=actor_id,
        reason=reason,
        now=now,
    )
    status_reason = (_("Fraud case %(id)d: %(reason)s") % {"id": case_id, "reason": reason})[:300]
    # One UPDATE per previous status, each returning the rows it changed: under PostgreSQL's
    # row locks a vote withdrawn at the same moment is either voided here (and its withdrawal
    # then sees "void" and leaves the tally alone) or skipped here, never counted out twice.
    counted = session.execute(
        update(VOTES)
        .where(
            _in_case(case_id),
            VOTES.c.status == VoteStatus.COUNTED.value,
            VOTES.c.withdrawn_at.is_(None),
        )
        .values(status=VoteStatus.VOID.value, status_reason=status_reason)
        .returning(VOTES.c.id, VOTES.c.idea_id, VOTES.c.weight)
    ).all()
    held = session.execute(
        update(VOTES)
        .where(
            _in_case(case_id),
            VOTES.c.status == VoteStatus.HELD.value,
            VOTES.c.withdrawn_at.is_(None),
        )
        .values(status=VoteStatus.VOID.value, status_reason=status_reason)
        .returning(VOTES.c.id)
    ).all()
    _mark_previous(session, case_id, [r[0] for r in counted], VoteStatus.COUNTED.value)
    _mark_previous(session, case_id, [r[0] for r in held], VoteStatus.HELD.value)
    deltas: dict[int, tuple[int, int]] = {}
    for _vote, idea, weight in counted:
        votes, points = deltas.get(idea, (0, 0))
        deltas[idea] = (votes - 1, points - weight)
    _adjust_tallies(session, case.round_id, deltas)
    record(
        session=session,
        actor_id=actor_id,
        action="fraud_case.voided",
        subject_type="fraud_case",
        subject_id=case_id,
        round_id=case.round_id,
        counted_voided=len(counted),
        held_voided=len(held),
        reason=reason,
    )
    session.commit()
    session.refresh(case)
    return Decision(case, len(counted) + len(held))


def restore_case(
    *, session: Session, case: FraudCase, actor_id: int, reason: str, now: datetime
) -> Decision:
    """Undo a void: each vote gets back the status it had; the case is open again."""
    note = _optional(reason)
    case_id = _id(case.id)
    begin_write(session)
    lock_round(session, case.round_id, refused_if_certified=_certified_votes_stay())
    _decide(
        session,
        case,
        from_status=CaseStatus.VOIDED,
        to_status=CaseStatus.OPEN,
        actor_id=actor_id,
        reason=note,
        now=now,
    )
    counted = session.execute(
        update(VOTES)
        .where(_in_case(case_id, VoteStatus.COUNTED.value), VOTES.c.status == VoteStatus.VOID.value)
        .values(status=VoteStatus.COUNTED.value, status_reason=None)
        .returning(VOTES.c.idea_id, VOTES.c.weight, VOTES.c.withdrawn_at)
    ).all()
    held = session.execute(
        update(VOTES)
        .where(_in_case(case_id, VoteStatus.HELD.value), VOTES.c.status == VoteStatus.VOID.value)
        .values(status=VoteStatus.HELD.value, status_reason=None)
        .returning(VOTES.c.id)
    ).all()
    session.execute(
        update(CASE_VOTES).where(CASE_VOTES.c.case_id == case_id).values(previous_status=None)
    )
    deltas: dict[int, tuple[int, int]] = {}
    for idea, weight, withdrawn_at in counted:
        if withdrawn_at is None:  # a vote withdrawn while void is not counted again
            votes, points = deltas.get(idea, (0, 0))
            deltas[idea] = (votes + 1, points + weight)
    _adjust_tallies(session, case.round_id, deltas)
    record(
        session=session,
        actor_id=actor_id,
        action="fraud_case.restored",
        subject_type="fraud_case",
        subject_id=case_id,
        round_id=case.round_id,
        counted_restored=len(counted),
        held_restored=len(held),
        reason=note,
    )
    session.commit()
    session.refresh(case)
    return Decision(case, len(counted) + len(held))


def clear_case(
    *, session: Session, case: FraudCase, actor_id: int, reason: str, now: datetime
) -> Decision:
    """Not fraud: the votes stay as they are; the case no longer blocks certification."""
    note = _optional(reason)
    case_id = _id(case.id)
    begin_write(session)
    _decide(
        session,
        case,
        from_status=CaseStatus.OPEN,
        to_status=CaseStatus.CLEARED,
        actor_id=actor_id,
        reason=note,
        now=now,
    )
    record(
        session=session,
        actor_id=actor_id,
        action="fraud_case.cleared",
        subject_type="fraud_case",
        subject_id=case_id,
        round_id=case.round_id,
        reason=note,
    )
    session.commit()
    session.refresh(case)
    return Decision(case, 0)


def suspend_accounts(
    *, session: Session, case: FraudCase, actor_id: int, reason: str, now: datetime
) -> Decision:
    """Disable the case's accounts and sign them out everywhere (session_version moves).

    Administrators and the acting moderator are never suspended this way.
    """
    reason = _reason(reason)
    case_id = _id(case.id)
    begin_write(session)
    fresh = session.exec(
        select(FraudCase).where(FraudCase.id == case_id).execution_options(populate_existing=True)
    ).one()
    suspended: list[int] = []
    for batch in _batches(sorted(fresh.voter_ids)):
        rows = session.execute(
            update(USERS)
            .where(
                USERS.c.id.in_(batch),
                USERS.c.id != actor_id,
                USERS.c.is_admin.is_(False),
                USERS.c.disabled.is_(False),
            )
            .values(disabled=True, session_version=USERS.c.session_version + 1)
            .returning(USERS.c.id)
        ).all()
        suspended.extend(int(r[0]) for r in rows)
    fresh.suspended_ids = sorted(set(fresh.suspended_ids) | set(suspended))
    session.add(fresh)
    record(
        session=session,
        actor_id=actor_id,
        action="fraud_case.accounts_suspended",
        subject_type="fraud_case",
        subject_id=case_id,
        round_id=case.round_id,
        user_ids=suspended,
        reason=reason,
        at=now.isoformat(),
    )
    session.commit()
    session.refresh(case)
    return Decision(case, 0, len(suspended))


def unsuspend_accounts(
    *, session: Session, case: FraudCase, actor_id: int, reason: str, now: datetime
) -> Decision:
    """Enable again the accounts this case suspended."""
    reason = " ".join(reason.split())[:REASON_MAX]
    case_id = _id(case.id)
    begin_write(session)
    fresh = session.exec(
        select(FraudCase).where(FraudCase.id == case_id).execution_options(populate_existing=True)
    ).one()
    restored: list[int] = []
    for batch in _batches(sorted(fresh.suspended_ids)):
        rows = session.execute(
            update(USERS)
            .where(USERS.c.id.in_(batch), USERS.c.disabled.is_(True))
            .values(disabled=False)
            .returning(USERS.c.id)
        ).all()
        restored.extend(int(r[0]) for r in rows)
    fresh.suspended_ids = []
    session.add(fresh)
    record(
        session=session,
        actor_id=actor_id,
        action="fraud_case.accounts_unsuspended",
        subject_type="fraud_case",
        subject_id=case_id,
        round_id=case.round_id,
        user_ids=restored,
        reason=reason or None,
        at=now.isoformat(),
    )
    session.commit()
    session.refresh(case)
    return Decision(case, 0, len(restored))
