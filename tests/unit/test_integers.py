"""The one parser for whole numbers from paths, query strings and forms."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from cocreate.integers import (
    ID_MAX,
    BadInteger,
    IdConvertor,
    id_or_none,
    id_param,
    id_params,
    int_or_none,
    parse_int,
)
from cocreate.voting.routes import points_given

MALFORMED = ["²", "١٢", "１２", "-1", "+1", " 12", "12 ", "1e3", "1_000", "0x10", "", "1.0", "\x00"]


@pytest.mark.parametrize("text", MALFORMED)
def test_anything_but_ascii_digits_is_malformed(text: str) -> None:
    with pytest.raises(BadInteger) as raised:
        parse_int(text, minimum=0, maximum=ID_MAX)
    assert not raised.value.out_of_range


READ = [("12", 12), ("0", 0), ("007", 7), ("0" * 10_000 + "99", 99), (str(ID_MAX), ID_MAX)]


@pytest.mark.parametrize(("text", "number"), READ)
def test_ascii_digits_within_the_bounds_are_read(text: str, number: int) -> None:
    assert parse_int(text, minimum=0, maximum=ID_MAX) == number


@pytest.mark.parametrize(
    "text", ["99999999999999999999", str(2**31), str(2**63), "1" * 5000, "0" * 10_000 + "1" * 11]
)
def test_numbers_beyond_the_maximum_are_out_of_range(text: str) -> None:
    with pytest.raises(BadInteger) as raised:
        parse_int(text, minimum=0, maximum=ID_MAX)
    assert raised.value.out_of_range


def test_the_minimum_is_kept() -> None:
    with pytest.raises(BadInteger) as raised:
        parse_int("0", minimum=1, maximum=10)
    assert raised.value.out_of_range
    assert id_or_none("0") is None and id_or_none("1") == 1


def test_values_that_are_not_text_are_malformed() -> None:
    for value in (None, 12, b"12", object()):
        with pytest.raises(BadInteger):
            parse_int(value, minimum=0, maximum=10)


@given(st.one_of(st.text(), st.text(alphabet="0123456789²١٢３ -+_"), st.binary(), st.none()))
def test_no_value_raises_anything_but_bad_integer(value: object) -> None:
    try:
        number = parse_int(value, minimum=1, maximum=ID_MAX)
    except BadInteger:
        assert int_or_none(value, minimum=1, maximum=ID_MAX) is None
        return
    assert isinstance(value, str) and value.isascii() and value.isdecimal()
    assert 1 <= number <= ID_MAX and int(value) == number


@given(st.integers(min_value=0, max_value=10**12))
def test_every_number_in_range_reads_back(number: int) -> None:
    assert int_or_none(str(number), minimum=1, maximum=ID_MAX) == (
        number if 1 <= number <= ID_MAX else None
    )


def test_query_and_hidden_field_ids_answer_400_when_malformed_404_when_out_of_range() -> None:
    assert id_param(None) is None and id_param("") is None and id_param("42") == 42
    with pytest.raises(HTTPException) as malformed:
        id_param("²")
    assert malformed.value.status_code == 400
    with pytest.raises(HTTPException) as too_large:
        id_param(str(2**63))
    assert too_large.value.status_code == 404
    assert id_params(["1", "", "3"]) == [1, 3]
    with pytest.raises(HTTPException):
        id_params(["1", "١٢"])


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_the_id_path_convertor_matches_exactly_the_ids(number: int) -> None:
    matched = re.fullmatch(IdConvertor.regex, str(number)) is not None
    assert matched == (1 <= number <= ID_MAX)


@pytest.mark.parametrize("text", ["0", "01", "²", "١٢", str(2**31), str(2**63), "1" * 40])
def test_the_id_path_convertor_refuses_what_is_not_an_id(text: str) -> None:
    assert re.fullmatch(IdConvertor.regex, text) is None


def test_the_id_path_convertor_spells_only_ids() -> None:
    convertor = IdConvertor()
    assert convertor.convert(str(ID_MAX)) == ID_MAX and convertor.to_string(7) == "7"
    with pytest.raises(ValueError):
        convertor.to_string(ID_MAX + 1)


@pytest.mark.parametrize(("raw", "points"), [("3", 3), (" 3 ", 3), ("²", None), ("0", None)])
def test_vote_points_are_a_whole_number_from_one(raw: str, points: int | None) -> None:
    assert points_given(FormData([("points", raw)])) == points
