"""Every page of a campaign's life, as each role sees it, in Chromium at 1280 and 360 px:
axe-core finds no WCAG 2.1 A/AA violation, nothing sticks out sideways on a phone, and no
page answers with an error. The campaign is moved through its stages with the app's clock:
ideas open and moderated, an approval round, a ranked final, a jury, the winners.

Screenshots of every page at both widths are left in the test's folder (or
$COCREATE_SCREENSHOTS) to be looked at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.brands.models import Membership, Role
from cocreate.campaigns.models import StageKind
from cocreate.clock import FrozenClock
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.results.certify import certify_round
from cocreate.voting.methods import Method
from cocreate.voting.models import Advancement
from tests.browser.a11y import looked_at, no_horizontal_scroll
from tests.browser.inprocess import served
from tests.browser.test_ballot import log_in
from tests.conftest import _PASSWORD_HASH
from tests.results_support import DAY, T0, Contest, add_juror, make_contest, write_votes

pytestmark = pytest.mark.browser

CONSOLE = "/brands/crispy/campaigns"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """axe-core is injected as a script, which the pages' CSP rightly refuses."""
    return {**browser_context_args, "bypass_csp": True}


def people(session: Session, contest: Contest) -> dict[str, User]:
    """The roles of the brand, each with a password: consumers vote, staff work."""
    found = {"consumer": contest.voters[0], "author": contest.author}
    for role in (Role.OWNER, Role.MARKETER, Role.MODERATOR):
        user = User(
            email=f"{role.value}@example.com",
            display_name=role.value.title(),
            created_at=T0 - 30 * DAY,
            email_verified_at=T0 - 30 * DAY,
        )
        session.add(user)
        session.flush()
        session.add(Membership(brand_id=contest.brand.id or 0, user_id=user.id or 0, role=role))
        found[role.value] = user
    found["juror"] = add_juror(session, contest.brand, "juror@example.com")
    for user in found.values():
        user.password_hash = _PASSWORD_HASH
        user.email_verified_at = T0 - 30 * DAY
        session.add(user)
    session.commit()
    return found


class Visit:
    """Pages looked at as one person (or nobody), with what was wrong on each."""

    def __init__(self, page: Any, server: str, folder: Path, problems: list[str]) -> None:
        self.page, self.server, self.folder, self.problems = page, server, folder, problems
        self.errors: list[str] = []
        page.on(
            "response",
            lambda r: (
                self.errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and "favicon" not in r.url
                else None
            ),
        )

    def as_(self, user: User | None) -> Visit:
        self.page.context.clear_cookies()
        if user is not None:
            log_in(self.page, self.server, user, "/")
        return self

    def _too_wide(self) -> list[str]:
        """The outermost elements that reach past the window's right edge."""
        found: list[str] = self.page.evaluate(
            """() => [...document.querySelectorAll('body *')]
              .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                        && !(e.parentElement && e.parentElement.getBoundingClientRect().right
                             > window.innerWidth + 1))
              .slice(0, 3).map(e => e.tagName.toLowerCase() + '.' + e.className + ' in '
                + e.parentElement.tagName + '.' + e.parentElement.className + ' '
                + getComputedStyle(e.parentElement).overflowX + ' '
                + e.parentElement.getBoundingClientRect().width)"""
        )
        return found

    def look(self, name: str, path: str) -> None:
        self.errors.clear()
        self.page.goto(self.server + path)
        for width, lines in looked_at(self.page, name, self.folder).items():
            self.problems.extend(f"{name} ({path}) at {width} px: {line}" for line in lines)
            self.page.set_viewport_size({"width": width, "height": 900})
            if not no_horizontal_scroll(self.page):
                self.problems.append(
                    f"{name} ({path}) scrolls sideways at {width} px: {self._too_wide()}"
                )
        self.problems.extend(f"{name}: {error}" for error in self.errors)


@pytest.fixture
def visit(page: Any, app: Any, clock: FrozenClock, tmp_path: Path) -> Iterator[Visit]:
    problems: list[str] = []
    clock.at = T0 - 5 * DAY
    with served(app) as server:
        yield Visit(page, server, tmp_path, problems)
    assert not problems, "\n".join(problems)


def test_every_page_of_the_lifecycle_as_each_role(
    visit: Visit, session: Session, clock: FrozenClock
) -> None:
    contest = make_contest(
        session,
        ideas=4,
        voters=3,
        advancement=Advancement.TOP_N,
        advancement_value=3,
        later=(StageKind.VOTING, StageKind.JURY),
    )
    final = contest.rounds[1]
    final.method = Method.RANKED
    session.add(final)
    pending = Idea(
        campaign_id=contest.campaign.id or 0,
        author_id=contest.voters[1].id or 0,
        title="Pickled onion & **honey**",
        description="Sweet, then *sharp*.",
        status=IdeaStatus.PENDING,
        submitted_at=T0 - 6 * DAY,
    )
    session.add(pending)
    session.commit()
    who = people(session, contest)
    idea = contest.ideas[0]
    flavour = f"{CONSOLE}/flavour"

    # Ideas are open (the first stage runs until T0): the public, a consumer, moderation.
    visit.as_(None)
    for name, path in [
        ("home", "/"),
        ("campaign", "/c/flavour"),
        ("gallery", "/c/flavour/ideas"),
        ("idea", f"/c/flavour/ideas/{idea.id}"),
        ("log in", "/login"),
    ]:
        visit.look(f"public {name}", path)
    visit.as_(who["consumer"])
    for name, path in [
        ("new idea", "/c/flavour/ideas/new"),
        ("my ideas", "/me/ideas"),
        ("account", "/account"),
    ]:
        visit.look(f"consumer {name}", path)
    visit.as_(who["author"]).look("author's idea", f"/c/flavour/ideas/{idea.id}")
    visit.as_(who["moderator"])
    visit.look("moderation queue", "/brands/crispy/moderation")
    visit.look("moderation item", f"/brands/crispy/moderation/ideas/{pending.id}")
    visit.as_(who["marketer"])
    for name, path in [
        ("brand", "/brands/crispy"),
        ("campaigns", CONSOLE),
        ("timeline", f"{flavour}/timeline"),
        ("campaign details", f"{flavour}/edit"),
        ("round settings", f"{flavour}/stages/{contest.round.stage_id}/round"),
    ]:
        visit.look(f"console {name}", path)
    visit.as_(who["owner"]).look("moderation settings", "/brands/crispy/moderation/settings")
    visit.look("brand members", "/brands/crispy/members")

    # The approval round is open: ballots, live results, the fraud review.
    clock.at = T0 + DAY
    v = contest.voters
    write_votes(session, contest.round, [(v[1], idea, 1), (v[2], idea, 1)], at=T0 + DAY / 2)
    write_votes(session, contest.round, [(v[1], contest.ideas[1], 1)], at=T0 + DAY / 2)
    visit.as_(who["consumer"]).look("approval ballot", "/c/flavour/vote")
    visit.look("live results", "/c/flavour/results")
    visit.as_(who["marketer"]).look("console results", f"{flavour}/results")
    visit.as_(who["moderator"]).look("fraud review", "/brands/crispy/fraud")

    # The ranked final.
    certify_round(session=session, round_=contest.round, now=T0 + 10 * DAY)
    clock.at = T0 + 11 * DAY
    visit.as_(who["consumer"]).look("ranked ballot", "/c/flavour/vote")
    visit.look("results after round 1", "/c/flavour/results")

    # The jury.
    write_votes(session, final, [(v[0], idea, 1), (v[0], contest.ideas[1], 2)], at=T0 + 12 * DAY)
    certify_round(session=session, round_=final, now=T0 + 20 * DAY)
    clock.at = T0 + 21 * DAY
    jury = f"{flavour}/jury"
    visit.as_(who["marketer"]).look("jury console", jury)
    visit.look("announcement editor", f"{flavour}/announcement")
    visit.as_(who["juror"]).look("jury page", jury)
    visit.look("jury scoring", f"{jury}/score?stage={contest.jury_stage.id}&idea={idea.id}")

    # The winners (the jury has not decided: the page says so), then the results.
    clock.at = T0 + 31 * DAY
    visit.as_(None).look("winners", "/c/flavour/winners")
    visit.look("final results", "/c/flavour/results")
