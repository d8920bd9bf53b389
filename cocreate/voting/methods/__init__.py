"""The voting methods: a registry of plug-ins, one module each (`base.VotingMethod`).

`method_named(round_.method)` gives a round's method; the round form lists `registry`'s. A
test (or a deployment) may register a method of its own for a while (`registry.using`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from cocreate.voting.methods.approval import Approval
from cocreate.voting.methods.base import Column as Column
from cocreate.voting.methods.base import Tally as Tally
from cocreate.voting.methods.base import VotingMethod as VotingMethod
from cocreate.voting.methods.head_to_head import HeadToHead
from cocreate.voting.methods.points import Points
from cocreate.voting.methods.ranked import Ranked
from cocreate.voting.methods.ranked import pairwise_preferences as pairwise_preferences
from cocreate.voting.methods.ranked import schulze as schulze
from cocreate.voting.methods.single import Single
from cocreate.voting.methods.standings import Standing as Standing
from cocreate.voting.methods.standings import rank as rank
from cocreate.voting.methods.standings import sum_weights as sum_weights

if TYPE_CHECKING:
    from cocreate.voting.open_round import RoundLike


class Method(enum.StrEnum):
    """The names of the methods that come with cocreate (the registry knows every method)."""

    APPROVAL = "approval"
    SINGLE = "single"
    POINTS = "points"
    RANKED = "ranked"
    HEAD_TO_HEAD = "head_to_head"


DEFAULT = Method.APPROVAL.value


class Registry:
    """Voting methods by name, in the order the round form offers them."""

    def __init__(self, methods: list[VotingMethod]) -> None:
        self._methods = {method.name: method for method in methods}

    def names(self) -> list[str]:
        return list(self._methods)

    def __iter__(self) -> Iterator[VotingMethod]:
        return iter(list(self._methods.values()))

    def get(self, name: str) -> VotingMethod:
        found = self._methods.get(name)
        if found is None:
            raise LookupError(f"no voting method named {name!r} is registered")
        return found

    @contextmanager
    def using(self, method: VotingMethod) -> Iterator[VotingMethod]:
        """`method` registered until the block ends (tests; a method named like one already
        registered replaces it meanwhile)."""
        before = dict(self._methods)
        self._methods[method.name] = method
        try:
            yield method
        finally:
            self._methods = before


registry = Registry([Approval(), Single(), Points(), Ranked(), HeadToHead()])


def method_named(name: str) -> VotingMethod:
    return registry.get(name)


def method_of(round_: RoundLike) -> VotingMethod:
    """The round's voting method."""
    return registry.get(round_.method)


def routes() -> list[BaseRoute]:
    """The routes the methods bring (a ranked ballot's submission, ...)."""
    return [route for method in registry for route in method.routes()]
