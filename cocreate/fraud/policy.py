"""A round's fraud policy: what happens to a vote at each level of risk.

Stored in `Round.fraud_policy` (JSON) as {"challenge_above": 50, "refuse_above": 90,
"middle": "challenge"}; thresholds are percent of the 0..1 risk score. A vote whose score is at
most `challenge_above` counts; above it and up to `refuse_above` the voter solves a
proof-of-work challenge first ("challenge") or the vote is kept but held for review ("hold");
above `refuse_above` it is refused and not stored. 100 turns a threshold off (the score never
exceeds 1.0). An empty or damaged JSON value reads as the defaults.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Middle(enum.StrEnum):
    CHALLENGE = "challenge"
    HOLD = "hold"


class Decision(enum.StrEnum):
    COUNT = "count"
    CHALLENGE = "challenge"
    HOLD = "hold"
    REFUSE = "refuse"


DEFAULT_CHALLENGE_ABOVE = 50
DEFAULT_REFUSE_ABOVE = 90


@dataclass(frozen=True)
class FraudPolicy:
    challenge_above: int = DEFAULT_CHALLENGE_ABOVE  # percent
    refuse_above: int = DEFAULT_REFUSE_ABOVE  # percent, >= challenge_above
    middle: str = Middle.CHALLENGE

    @classmethod
    def from_json(cls, value: Any) -> FraudPolicy:
        if not isinstance(value, dict):
            return cls()

        def percent(name: str, default: int) -> int:
            raw = value.get(name)
            if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 100:
                return default
            return raw

        challenge = percent("challenge_above", DEFAULT_CHALLENGE_ABOVE)
        refuse = max(challenge, percent("refuse_above", DEFAULT_REFUSE_ABOVE))
        middle = value.get("middle")
        if middle not in (Middle.CHALLENGE.value, Middle.HOLD.value):
            middle = Middle.CHALLENGE.value
        return cls(challenge_above=challenge, refuse_above=refuse, middle=str(middle))

    def as_json(self) -> dict[str, Any]:
        return {
            "challenge_above": self.challenge_above,
            "refuse_above": self.refuse_above,
            "middle": str(self.middle),
        }

    def decide(self, score: float, *, solved: bool = False) -> Decision:
        """What happens to a vote of `score` (0..1); `solved`: the voter sent a valid,
        unused proof-of-work solution for this very vote."""
        percent = score * 100
        if percent > self.refuse_above:
            return Decision.REFUSE
        if percent <= self.challenge_above:
            return Decision.COUNT
        if self.middle == Middle.HOLD:
            return Decision.HOLD
        return Decision.COUNT if solved else Decision.CHALLENGE
