"""Voting: rounds, ballots and votes (the vote store owns every write to them).

Importing this package registers voting's part of an idea's page in the ideas feature
(`share_votes`: what the author's share links brought), as moderation registers its own.
"""

from cocreate.ideas import hooks as _idea_hooks
from cocreate.voting import share_votes as _share_votes

_idea_hooks.register_page_part(_share_votes.idea_page_part)
