"""Names that code of other parts of issue 18 still imports from here; the code lives in the
modules named. Delete this module once those imports move:

- `cocreate/voting/ballots.py`: `votable` (the ideas feature's rule,
  cocreate.ideas.visibility.votable).

Inside the moderation feature, and anywhere new, import those modules instead.
"""

from cocreate.ideas.visibility import votable

__all__ = ["votable"]
