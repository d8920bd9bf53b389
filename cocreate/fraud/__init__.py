"""Fraud checks in two layers.

Layer 1 (`risk`, `challenge`, `policy`): cheap signals at the moment of the vote decide whether
it counts, must solve a proof-of-work challenge first, is held for review, or is refused.

Layer 2 (`log`, `detectors`, `cases`): analysis of a round's whole vote log finds lockstep
rings, sockpuppet clusters and bursts, and opens fraud cases that moderators decide.
"""
