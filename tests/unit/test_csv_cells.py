"""CSV cells a spreadsheet shows as text, never runs as a formula."""

from __future__ import annotations

import pytest

from cocreate.csv_cells import FORMULA_STARTS, neutral_cell, neutral_row


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_text_that_starts_like_a_formula_gets_a_quote(start: str) -> None:
    assert neutral_cell(f'{start}HYPERLINK("http://x")') == f'\'{start}HYPERLINK("http://x")'


def test_other_text_and_numbers_are_left_as_they_are() -> None:
    assert neutral_row(["Idea A", "a=b", "", "'quoted", -3, 0, 2.5, None]) == [
        "Idea A",
        "a=b",
        "",
        "'quoted",
        -3,
        0,
        2.5,
        None,
    ]


def test_every_formula_start_is_one_of_owasps() -> None:
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}
