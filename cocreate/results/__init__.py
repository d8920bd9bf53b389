"""Results: the tally and who goes on, certification (a job), the digest and the vote log,
verification, and the published pages (results, winners, CSV) with the results console.

Results builds on voting, which does not import it: importing this package registers
results' part in voting (`voting_hooks`). The app imports it, as does anything that loads
the tables (`cocreate.models`). The jury builds on results the same way (`hooks`).
"""

from cocreate.results import voting_hooks

voting_hooks.register()
