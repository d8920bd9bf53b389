"""Voting methods are plug-ins (cocreate/voting/methods/): nothing outside a method's module
branches on which method a round has, and a method registered from elsewhere (a test
registry, here) goes through the round form, the ballot, the vote, the count, certification,
the exports and the fraud loader with no change anywhere else."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.fraud.loader import read_round_log
from cocreate.i18n import gettext as _
from cocreate.results.certify import certify_round
from cocreate.results.models import RoundResult
from cocreate.results.rounds import campaign_rounds
from cocreate.results.verify import verify_round
from cocreate.voting.methods import VotingMethod, registry
from cocreate.voting.models import Round, Vote
from tests.conftest import log_in
from tests.voting_support import DAY, T0, htmx_post, make_voting_world, token

if TYPE_CHECKING:
    from cocreate.voting.open_round import RoundLike

ROOT = Path(__file__).resolve().parents[2]
METHODS = ROOT / "cocreate" / "voting" / "methods"
NAMES = {"approval", "single", "points", "ranked", "head_to_head"}


# --- Nothing outside the methods branches on a method -------------------------------------------


def _is_method_name(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and node.value in NAMES:
        return True
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id == "Method"  # Method.POINTS
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_is_method_name(element) for element in node.elts)
    return False


def _names_the_method(node: ast.expr) -> bool:
    """`round_.method`, `opened.round.method`... (not a request's HTTP method)."""
    if not (isinstance(node, ast.Attribute) and node.attr == "method"):
        return False
    return not (isinstance(node.value, ast.Name) and node.value.id in ("request", "scope"))


def branches_of(source: str) -> list[str]:
    """Where Python code compares a round's method, or anything, with a method's name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_method_name(side) for side in sides) or any(
                _names_the_method(side) for side in sides
            ):
                found.append(f"{node.lineno}: {ast.unparse(node)[:70]}")
    return found


TEMPLATE_BRANCH = re.compile(
    r"""\.method\s*(==|!=|\bin\b)|(==|!=|\bin\b)\s*\(?\s*["'](approval|single|points|ranked|head_to_head)["']"""
)


def template_branches_of(text: str) -> list[str]:
    return [m.group(0) for m in TEMPLATE_BRANCH.finditer(text)]


@pytest.mark.parametrize(
    "source",
    [
        "if round_.method == Method.POINTS: pass",
        "x = 1 if method == 'ranked' else 0",
        "ok = round_.method in ('approval', 'points')",
        "if opened.round.method != Method.RANKED: pass",
    ],
)
def test_the_check_sees_a_branch(source: str) -> None:
    assert branches_of(source), source


def test_the_template_check_sees_a_branch() -> None:
    assert template_branches_of('{% if round.method == "points" %}')
    assert template_branches_of("{% if method == 'ranked' and x %}")
    assert template_branches_of('{% if round.method in ("approval", "ranked") %}')
    assert not template_branches_of('{% if "max_votes" in method.settings %}')


def test_no_code_outside_the_methods_branches_on_a_method() -> None:
    offenders = {}
    for path in sorted((ROOT / "cocreate").rglob("*.py")):
        if METHODS in path.parents:
            continue
        found = branches_of(path.read_text())
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    for path in sorted((ROOT / "templates").rglob("*.html")):
        found = template_branches_of(path.read_text())
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}, "ask the round's method (cocreate/voting/methods) instead"


def test_the_database_does_not_list_the_methods() -> None:
    """A new method needs no migration: no CHECK on rounds.method."""
    checks = [str(getattr(c, "sqltext", "")) for c in Round.__table__.constraints]  # type: ignore[attr-defined]
    assert not [check for check in checks if "method" in check]


def test_the_registry_holds_the_methods_that_come_with_cocreate() -> None:
    assert registry.names() == ["approval", "single", "points", "ranked", "head_to_head"]
    assert all(method.label() and method.choice() for method in registry)


# --- A method from elsewhere, through every use case -------------------------------------------


class Thumbs(VotingMethod):
    """A test method: thumbs up for up to N ideas; each thumb scores two."""

    name = "thumbs"

    def label(self) -> str:
        return "Thumbs"

    def choice(self) -> str:
        return "Thumbs: raise a thumb for up to N ideas"

    def explain(self, round_: RoundLike) -> str:
        return f"Raise your thumb for up to {round_.max_votes} ideas."

    def counted_message(self, title: str) -> str:
        return f"Your thumb for {title} is up."

    def score(self, votes: int, points: int) -> int:
        return 2 * votes

    def rule(self, round_: RoundLike) -> str:
        return "Ideas are ordered by their thumbs, two points each."

    def results_columns(self, showing: str) -> list:  # type: ignore[type-arg]
        from cocreate.voting.methods import Column

        return [Column(_("Votes"), "votes"), Column("Thumb points", "score")]


@pytest.fixture
def thumbs() -> Iterator[Thumbs]:
    with registry.using(Thumbs()) as method:
        yield method  # type: ignore[misc]


def test_a_method_registered_elsewhere_needs_nothing_else(
    thumbs: Thumbs,
    client: TestClient,
    session: Session,
    clock: FrozenClock,
    make_user: Callable[..., User],
) -> None:
    clock.at = T0 - 3 * DAY  # before the round opens: its rules can change
    owner = make_user("owner@example.com")
    world = make_voting_world(session, owner, ideas=3)
    log_in(client, owner)
    # The round form offers the method and takes it.
    assert "Thumbs: raise a thumb for up to N ideas" in client.get(world.round_url).text
    settings = {
        "method": "thumbs",
        "max_votes": "2",
        "frequency": "once",
        "require_verified_email": "on",
        "min_account_age_days": "0",
        "advancement": "top_n",
        "advancement_value": "1",
        "tie_break": "earlier_submission",
        "visibility": "live",
    }
    saved = client.post(
        world.round_url, data={"csrf_token": token(client, world.round_url), **settings}
    )
    assert saved.status_code == 303, saved.text
    session.expire_all()
    round_ = session.get(Round, world.round.id)
    assert round_ is not None and round_.method == "thumbs"
    # The ballot explains it; votes go through the one pipeline.
    clock.at = T0
    client.cookies.clear()
    voters = [make_user(f"voter{n}@example.com") for n in range(3)]
    for voter, ideas in zip(voters, ([0, 1], [1], [1, 2]), strict=True):
        log_in(client, voter)
        page = client.get(world.ballot_url)
        assert "Raise your thumb for up to 2 ideas." in page.text
        csrf = token(client, world.ballot_url)
        for n in ideas:
            answer = htmx_post(client, world.vote_url(world.ideas[n]), csrf)
            assert f"Your thumb for {world.ideas[n].title} is up." in answer.text
        client.cookies.clear()
    # The count is the method's: certified, exported, verified.
    clock.at = world.stage.closes_at + DAY
    session.rollback()
    round_ = session.get(Round, world.round.id)
    assert round_ is not None
    loaded = read_round_log(session=session, round_id=round_.id or 0)
    assert len(loaded.log) == 5  # the fraud loader read the method's log
    session.rollback()
    certify_round(session=session, round_=round_, now=clock.now())
    scores = {r.idea_id: r.score for r in session.exec(select(RoundResult)).all()}
    assert scores == {world.ideas[0].id: 2, world.ideas[1].id: 6, world.ideas[2].id: 2}
    (info,) = campaign_rounds(session=session, campaign_id=world.campaign.id or 0)
    assert verify_round(session=session, info=info).ok
    results = client.get(f"/c/{world.campaign.slug}/results?round=1").text
    assert "Ideas are ordered by their thumbs, two points each." in results
    assert "Thumb points" in results
    exported = client.get(f"/c/{world.campaign.slug}/results.csv?round=1")
    assert exported.status_code == 200 and exported.text.count("\n") == 4
    assert len(session.exec(select(Vote)).all()) == 5
