"""Moderation: the queue, one use case per decision (`decisions/`), reports, the pre-screen.

Moderation builds on the ideas feature, which does not import it: importing this package
registers moderation's part in ideas (`idea_hooks`). The app imports it, as does anything
that loads the tables (`cocreate.models`).
"""

from cocreate.moderation import idea_hooks, nav

idea_hooks.register()
nav.register()
