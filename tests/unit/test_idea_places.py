"""The author's places in a campaign: the limit counts live ideas, the ceiling every one sent."""

from __future__ import annotations

import pytest

from cocreate.ideas.service import SUBMITTED_CEILING, Places


@pytest.mark.parametrize(
    ("used", "submitted", "left", "at_ceiling"),
    [
        (0, 0, 3, False),  # a newcomer
        (1, 1, 2, False),
        (3, 3, 0, False),  # the limit reached by live ideas
        (0, 5, 3, False),  # five rejected: the limit counts none of them
        (0, 8, 1, False),  # one below the ceiling of 9: only one more
        (0, 9, 0, True),  # the ceiling, whatever became of them
        (1, 12, 0, True),  # past it (a rejection undone): never negative
    ],
)
def test_places_left(used: int, submitted: int, left: int, at_ceiling: bool) -> None:
    places = Places(limit=3, used=used, submitted=submitted)
    assert places.ceiling == 3 * SUBMITTED_CEILING == 9
    assert places.left == left
    assert places.at_ceiling is at_ceiling
