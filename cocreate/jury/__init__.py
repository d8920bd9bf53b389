"""The jury stage: criteria with weights, scores from 0 to 10, and the ideas the scores pick.

The marketer defines the criteria and how many ideas the jury picks (`settings`). Each member
of the brand's jury scores every candidate on every criterion while the stage is open
(`scoring`); every score given or changed is an audit event. An idea's jury score is the
weighted average, over the criteria, of the jurors' mean score on each (`standings`).
Closing the scoring freezes the ranking (`finalise`: `jury_outcomes`); the top ideas go on
to the next voting round, or are the winners. The jury also decides a certified round's
ideas left undecided (`decision_pages`, through `cocreate.results.decisions`).

The jury builds on results, which does not import it: importing this package registers the
jury's part in results (`results_hooks`). The app imports it, as does anything that loads
the tables (`cocreate.models`).
"""

from cocreate.jury import results_hooks

results_hooks.register()
