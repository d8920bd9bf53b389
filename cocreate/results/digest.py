"""The vote log, anonymised and digested: what certification freezes and anyone can check.

Voters appear in the published log under a pseudonym (HMAC of their id with the campaign's
own key). `read_vote_log` reads the round's log once, in id order (the method's log:
`VotingMethod.vote_log`), and in that single pass both recounts it and computes the SHA-256
digest of its anonymised form: anyone holding the published vote-log CSV can recompute the
digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlmodel import Session, select

from cocreate.results.models import VoteLogKey
from cocreate.results.rounds import dialect_insert, submission_order, tie_break_key
from cocreate.results.tally import Tally
from cocreate.voting.methods import method_of
from cocreate.voting.models import Round
from cocreate.voting.vote_log import LogRow


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def vote_log_key(*, session: Session, campaign_id: int) -> bytes:
    """The campaign's pseudonym key, made on first use (race-safe: insert or keep)."""
    session.execute(
        dialect_insert(session)(VoteLogKey)
        .values(campaign_id=campaign_id, key=secrets.token_hex(32))
        .on_conflict_do_nothing(index_elements=["campaign_id"])
    )
    key = session.exec(select(VoteLogKey.key).where(VoteLogKey.campaign_id == campaign_id)).one()
    return bytes.fromhex(key)


class Pseudonyms:
    """Voter id -> HMAC-SHA256(campaign key, id), 16 hex digits. Cached, with a bounded cache
    (a voter's votes are usually close together in id order)."""

    def __init__(self, key: bytes, cache_size: int = 200_000) -> None:
        self._key = key
        self._cache: dict[int, str] = {}
        self._cache_size = cache_size

    def __call__(self, voter_id: int) -> str:
        found = self._cache.get(voter_id)
        if found is None:
            found = hmac.new(self._key, str(voter_id).encode(), hashlib.sha256).hexdigest()[:16]
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[voter_id] = found
        return found


def log_line(row: LogRow, pseudonym: Callable[[int], str]) -> str:
    """The canonical line of one vote, as in the published CSV (no field needs quoting, and
    none begins with a formula character: `csv_cells.neutral_cell` would leave each as it
    is, so the digest covers exactly the bytes published)."""
    return f"{row[1]},{pseudonym(row[0])},{row[2]}\n"


@dataclass(frozen=True)
class LogReading:
    tally: Tally
    digest: str
    votes_in_log: int


def read_vote_log(
    *,
    session: Session,
    round_: Round,
    entrants: Iterable[int],
    key: bytes,
    progress: Callable[[int], None] | None = None,
) -> LogReading:
    """One pass over the log: the tally of counted live votes, and the SHA-256 digest of the
    anonymised log (the vote-log CSV without its header line). One statement, so the two
    cannot disagree, whatever isolation level the database runs at."""
    builder = method_of(round_).tally()
    add = builder.add
    digest = hashlib.sha256()
    pseudonym = Pseudonyms(key)
    n = 0
    for rows in method_of(round_).vote_log(session, _id(round_.id)):
        n += len(rows)
        digest.update("".join([log_line(row, pseudonym) for row in rows]).encode())
        for voter_id, _vote_id, _rest, idea_id, weight, period in rows:
            if idea_id is not None:
                add(voter_id, idea_id, period, weight)
        if progress is not None:
            progress(n)  # how many votes read so far (a job shows it on its page)
    order = submission_order(session=session, campaign_id=round_.campaign_id)
    tally = builder.result(entrants, tie_break=tie_break_key(round_, order))
    return LogReading(tally, digest.hexdigest(), n)


def vote_log_csv(*, session: Session, round_: Round) -> Iterator[str]:
    """The anonymised vote log as CSV text chunks: a header line, then one line per vote."""
    key = vote_log_key(session=session, campaign_id=round_.campaign_id)
    pseudonym = Pseudonyms(key)
    yield method_of(round_).log_header()
    for rows in method_of(round_).vote_log(session, _id(round_.id)):
        yield "".join([log_line(row, pseudonym) for row in rows])
