"""The pre-screen's text checks, without a database."""

from __future__ import annotations

import pytest

from cocreate.moderation.blocklist import DEFAULT_BLOCKLIST
from cocreate.moderation.prescreen import (
    all_capitals,
    blocklisted,
    emails,
    fold,
    links,
    phone_numbers,
    screen,
    too_short,
)


def test_fold_ignores_case_accents_and_spacing() -> None:
    assert fold("  Crème   BRÛLÉE ") == "creme brulee"
    assert fold("ÇA VA") == "ca va"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("What a load of SHIT", ["shit"]),
        ("Une idée de MERDE", ["merde"]),
        ("Espèce d'enculé !", ["encule"]),
        ("Ta gueule, vraiment", ["ta gueule"]),
        ("Scunthorpe pudding crisps", []),  # whole words only
        ("A classic assortment", []),
        ("Shiitake mushroom", []),
    ],
)
def test_blocklist_matches_whole_folded_words(text: str, found: list[str]) -> None:
    assert blocklisted(text, DEFAULT_BLOCKLIST) == found


def test_a_brands_own_words_and_phrases() -> None:
    assert blocklisted("These are SOGGY chips", ["soggy chips", "Pineapple"]) == ["soggy chips"]
    assert blocklisted("ananas et pineapple", ["Pineapple"]) == ["pineapple"]


@pytest.mark.parametrize(
    "text",
    ["see https://example.com/x", "go to www.example.org", "visit cheap-crisps.shop now"],
)
def test_links(text: str) -> None:
    assert links(text)


def test_no_link_in_ordinary_text_or_an_email_address() -> None:
    assert links("Salt. Vinegar. A touch of pepper, e.g. black.") == []
    assert links("write to ada@example.com") == []
    assert emails("write to Ada.Lovelace+crisps@example.co.uk today") == [
        "Ada.Lovelace+crisps@example.co.uk"
    ]


@pytest.mark.parametrize(
    "text",
    ["+33 6 12 34 56 78", "06.12.34.56.78", "(555) 123-4567 ext", "call 0612345678"],
)
def test_phone_numbers(text: str) -> None:
    assert phone_numbers(text)


@pytest.mark.parametrize(
    "text", ["a 150 g bag for 3.50 euros", "since 2024-06-12", "top 10 of 2025", "v1.2.3"]
)
def test_numbers_that_are_not_phone_numbers(text: str) -> None:
    assert phone_numbers(text) == []


def test_too_short_and_all_capitals() -> None:
    assert too_short("Salt", "Yes")
    assert not too_short("Sea salt", "With flakes from Brittany.")
    assert all_capitals("BEST CRISPS EVER, BUY THEM")
    assert not all_capitals("OK, BBQ flavour with a hint of smoke")
    assert not all_capitals("BBQ")  # too few letters to be shouting


def test_screen_suggests_an_action_per_finding() -> None:
    findings = screen(
        title="SALT AND VINEGAR CRISPS",
        description="CALL 06 12 34 56 78 NOW",
        blocklist=DEFAULT_BLOCKLIST,
        look_alike=(7, "Salt & vinegar crisps", "approved"),
    )
    by_kind = {f.kind: f for f in findings}
    assert set(by_kind) == {"phone", "duplicate", "all_caps"}
    assert by_kind["phone"].suggested_action == "reject"
    assert (by_kind["duplicate"].similar_idea_id, by_kind["duplicate"].suggested_action) == (
        7,
        "merge",
    )
    assert by_kind["all_caps"].suggested_action == "request_changes"


def test_a_pending_twin_is_flagged_but_cannot_be_merged_into() -> None:
    [finding] = screen(
        title="Honey mustard",
        description="Sweet and sharp, for the summer barbecue season.",
        blocklist=(),
        look_alike=(3, "Honey  mustard", "pending"),
    )
    assert (finding.kind, finding.suggested_action, finding.similar_idea_id) == (
        "duplicate",
        "reject",
        3,
    )
