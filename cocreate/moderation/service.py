"""Names that code of other parts of issue 18 still imports from here; the code lives in the
modules named. Delete this module once those imports move:

- `cocreate/app.py`: `purge_rejected_images` (cocreate.moderation.purge);
- `cocreate/fraud/routes.py`: `get_brand` (cocreate.brands.service.get_brand_by_slug);
- `cocreate/voting/ballots.py`: `votable` (the ideas feature's rule,
  cocreate.ideas.visibility.votable).

Inside the moderation feature, and anywhere new, import those modules instead.
"""

from cocreate.brands.service import get_brand_by_slug as get_brand
from cocreate.ideas.visibility import votable
from cocreate.moderation.purge import purge_rejected_images

__all__ = ["get_brand", "purge_rejected_images", "votable"]
