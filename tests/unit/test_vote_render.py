"""The vote block renders the same HTML, byte for byte, as the templates it was rewritten from.

The htmx answer to a vote (`voting/_vote_response.html`) and the ballot's entrants
(`voting/_entrant.html`, once per idea) were made cheaper to render: fewer includes and a
leaner gettext (see cocreate/web.py). `vote_render_expected.json` holds what the templates
of commit 1715d55 (three includes per answer, Jinja's own newstyle gettext) rendered for
every case below, in English and in French, written once before the change; any difference
in the markup, its whitespace or its escaping fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment

from cocreate import i18n
from cocreate.campaigns.models import Campaign
from cocreate.markdown import summary_html
from cocreate.voting.ballots import BallotState, EntrantView
from cocreate.voting.models import Round
from cocreate.web import make_templates

EXPECTED = Path(__file__).with_name("vote_render_expected.json")
TITLE = "Crème <brûlée> & \"smoky\" 'bacon'"  # every character autoescaping changes
DESCRIPTION = "A <b>bold</b> & salted idea. " * 8  # over 200 characters: truncated
COUNTED = "Your vote for “Crème <brûlée>” is counted."
REFUSED = "You have no votes left in this round."
TOKEN = "tok-<&>-" + "k" * 35


def _round(method: str) -> Round:
    return Round(id=7, stage_id=3, campaign_id=2, method=method, max_votes=3, points_budget=10)


def _answer(method: str, count: int | None, weight: int | None, message: str, refused: bool):
    """The context `_vote` hands `voting/_vote_response.html`."""
    round_ = _round(method)
    state = BallotState(votes_left=2, points_left=4, max_votes=3, points_budget=10)
    return {
        "campaign": Campaign(id=2, brand_id=1, slug="flavours", title="Flavours"),
        "round": round_,
        "entrant": EntrantView(
            idea_id=42, title=TITLE, description="", my_weight=weight, count=count, rank=None
        ),
        "state": state,
        "counter": "2 votes left <of 3>",
        "can_vote": True,
        "message": message,
        "refused": refused,
        "csrf_token": lambda: TOKEN,
    }


def answer_cases(locale: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every method, count and vote of the voter, with no message and with a refusal; and a
    counted vote's message (in French only these: the strings are the same code paths)."""
    for method in ("approval", "single", "points"):
        weights: tuple[int | None, ...] = (None, 1, 5) if method == "points" else (None, 1)
        for weight in weights:
            messages = [(COUNTED, False, 17)]
            if locale == "en":
                messages += [
                    (m, r, c) for c in (None, 1, 17) for m, r in (("", False), (REFUSED, True))
                ]
            for message, refused, count in messages:
                name = f"answer-{method}-count{count}-weight{weight}-{bool(message)}-{refused}"
                yield name, _answer(method, count, weight, message, refused)


def _entrants() -> list[EntrantView]:
    return [
        EntrantView(
            idea_id=1,
            title=TITLE,
            description=DESCRIPTION,
            my_weight=None,
            count=0,
            rank=1,
            summary_html=summary_html(DESCRIPTION),
        ),
        EntrantView(idea_id=2, title="Plain", description="", my_weight=1, count=1, rank=2),
        EntrantView(
            idea_id=3,
            title="Hidden",
            description="Short.",
            my_weight=3,
            count=None,
            rank=None,
            picture_url="/media/ideas/3/thumb.webp",
            summary_html=summary_html("**Short.**"),
        ),
    ]


def entrant_cases(locale: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The ballot's entrants: signed in or not (no CSRF token), a ranked ballot (no buttons);
    in French only a voter's."""
    for method in ("approval", "single", "points", "ranked"):
        voters = (
            ((True, True), (False, True), (False, False)) if locale == "en" else ((True, True),)
        )
        for can_vote, token in voters:
            yield (
                f"entrants-{method}-{can_vote}-{token}",
                {
                    "campaign": Campaign(id=2, brand_id=1, slug="flavours", title="Flavours"),
                    "round": _round(method),
                    "entrants": _entrants(),
                    "can_vote": can_vote,
                    "csrf_token": (lambda: TOKEN) if token else None,
                    "counter": "2 votes left",
                },
            )


ENTRANTS_LOOP = (
    '{% for entrant in entrants %}{% include "voting/_entrant.html" %}{% endfor %}'
    '{% if can_vote %}{% include "voting/_counter.html" %}{% endif %}'
)


def render_all(env: Environment) -> dict[str, str]:
    """Every case, in English and in French."""
    answer = env.get_template("voting/_vote_response.html")
    entrants = env.from_string(ENTRANTS_LOOP)
    rendered = {}
    for locale in ("en", "fr"):
        with i18n.using_locale(locale):
            for name, context in answer_cases(locale):
                rendered[f"{locale}-{name}"] = answer.render(context)
            for name, context in entrant_cases(locale):
                rendered[f"{locale}-{name}"] = entrants.render(context)
    return rendered


@pytest.fixture(scope="module")
def expected() -> dict[str, str]:
    cases: dict[str, str] = json.loads(EXPECTED.read_text(encoding="utf-8"))
    return cases


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return render_all(make_templates().env)


def test_every_case_has_an_expectation(expected: dict[str, str], rendered: dict[str, str]) -> None:
    assert sorted(rendered) == sorted(expected)
    assert len(expected) == len(CASE_NAMES)


CASE_NAMES = [
    f"{locale}-{name}"
    for locale in ("en", "fr")
    for name, _context in chain(answer_cases(locale), entrant_cases(locale))
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_the_same_html_as_before(
    name: str, expected: dict[str, str], rendered: dict[str, str]
) -> None:
    assert rendered[name] == expected[name]


def test_the_french_answer_is_translated(rendered: dict[str, str]) -> None:
    answer = rendered["fr-answer-points-count17-weight5-True-False"]
    assert "17 points" in answer and "Vous avez donné 5 points" in answer
    assert "Crème &lt;brûlée&gt; &amp; &#34;smoky&#34; &#39;bacon&#39;" in answer
