"""Evidence that is safe to show a moderator: signal codes mapped back to shortened values."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from cocreate.fraud.loader import ACCOUNT_SIGNALS, SIGNALS, RoundLog
from cocreate.fraud.log import MISSING, Finding


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


def evidence_of(loaded: RoundLog, finding: Finding) -> dict[str, Any]:
    return {
        "detector": _safe(dict(finding.evidence), loaded),
        "shared": _shared_signals(loaded, finding),
    }
