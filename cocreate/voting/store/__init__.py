"""The vote store: every statement that writes votes, ballots or idea tallies lives here.

Other features (fraud review, moderation's merges, results) change votes through these named
operations, never with statements of their own, so the rules that keep the count right hold
in one place:

- a vote is cast once (a partial unique index on the live vote: a double post stores
  nothing) and paid for by its ballot (CHECK (votes_left >= 0) and (points_left >= 0));
- votes are never deleted: a voter withdraws one (`withdrawn_at`), a review voids, restores
  or releases it (`status`), a merge moves it to another idea;
- the idea's live tally (`idea_tallies`) changes by exactly the counted votes an operation
  adds or takes away, in the same transaction, so it always equals a recount of the log.

`tests/unit/test_vote_store.py` checks that no module outside this package writes the three
tables.
"""

from cocreate.voting.store.moves import move, move_back
from cocreate.voting.store.ranking import replace_ranking
from cocreate.voting.store.reviews import Changed, change_status, release, restore, void
from cocreate.voting.store.statements import CastRow
from cocreate.voting.store.votes import adjust, cast, entrant_title, left, withdraw

__all__ = [
    "CastRow",
    "Changed",
    "adjust",
    "cast",
    "change_status",
    "entrant_title",
    "left",
    "move",
    "move_back",
    "release",
    "replace_ranking",
    "restore",
    "void",
    "withdraw",
]
