from __future__ import annotations

import pytest

from cocreate.ideas.similarity import fold, prefix_range, rank_similar, singular, terms


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Fraise", "fraises"),
        ("Crème brûlée", "creme brulee"),
        ("Crème brûlée", "CRÈMES BRÛLÉES"),
        ("Gâteau", "gâteaux"),
        ("Berry", "berries"),
        ("Peach", "peaches"),
        ("Glass", "glasses"),
        ("Cheval", "chevaux"),
        ("Jeu", "jeux"),
        ("Salt & vinegar", "salt and vinegars"),
        ("ﬁne", "fine"),  # compatibility ligature, folded by NFKD
    ],
)
def test_singular_and_plural_accents_and_case_fold_alike(one: str, other: str) -> None:
    assert fold(one) == fold(other)


@pytest.mark.parametrize(("one", "other"), [("Fraise", "Framboise"), ("Pomme", "Poire")])
def test_different_words_stay_different(one: str, other: str) -> None:
    assert fold(one) != fold(other)


def test_stop_words_are_dropped_unless_they_are_all_there_is() -> None:
    assert fold("Le sel et le vinaigre") == fold("sel vinaigre")
    assert fold("The") == "the"
    assert terms("The and of") == []


def test_terms_are_distinct_ascii_and_bounded() -> None:
    assert terms("Chocolat, chocolats et CHOCOLAT noir") == ["chocolat", "noir"]
    assert all(t.isascii() and t.isalnum() for t in terms("Été à l'île — ½ « citron » 🍋"))
    assert max(len(t) for t in terms("a" * 500)) == 40
    assert len(terms(" ".join(f"word{n}" for n in range(200)))) == 64


def test_singular_leaves_short_words_and_numbers_alone() -> None:
    assert singular("bus") == "bus"
    assert singular("2024") == "2024"


def test_prefix_range_holds_exactly_the_words_with_that_prefix() -> None:
    low, high = prefix_range("choc")
    words = ["cho", "choc", "choco", "chocolat", "chocz9", "chod", "chob", "chp", "choczzz"]
    inside = [w for w in words if low <= w <= high]
    assert inside == ["choc", "choco", "chocolat", "chocz9", "choczzz"]


def test_rank_similar_finds_look_alikes_and_ignores_the_rest() -> None:
    candidates = [
        (1, fold("Fraises au chocolat")),
        (2, fold("Crème brûlée")),
        (3, fold("Framboise")),
        (4, fold("Paprika fumé")),
    ]
    assert [i for i, _ in rank_similar("fraise", candidates)] == [1]
    assert [i for i, _ in rank_similar("creme brulee", candidates)] == [2]
    assert rank_similar("pistache", candidates) == []
    assert rank_similar("", candidates) == []
