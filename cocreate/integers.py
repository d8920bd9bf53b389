"""Whole numbers from paths, query strings and forms: one parser and one rule for them all.

A whole number is written with the ASCII digits 0-9 only, and nothing else: no sign, no
space, no underscore. `str.isdigit()` is true for "²" (which `int()` refuses: a 500) and
`int()` itself reads " 12", "+1", "1_000" and the Arabic-Indic "١٢", which nobody means.
Every number is also bounded by its caller, and ids by the database: they are PostgreSQL
`integer` columns (1 .. 2**31 - 1), and SQLite refuses to bind anything beyond 2**63 - 1.

What a bad number answers (docs/security.md, "Input handling"):
- an id in the path that is not one (malformed or out of range): 404, the route does not
  match (the `{name:id}` convertor below);
- an id in a query string or a hidden form field, which only a hand-made request gets wrong:
  400 when malformed, 404 when out of range (as for an id no row has);
- a number someone types in a form: a form error in their language, from the caller.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException

ID_MAX = 2**31 - 1  # PostgreSQL `integer`, the type of every id a route or a form names


class BadInteger(ValueError):
    """Not a whole number within the bounds. `out_of_range`: written as one, but too large
    or too small; otherwise malformed (not ASCII digits, or empty)."""

    def __init__(self, value: object, *, out_of_range: bool) -> None:
        shown = value[:40] if isinstance(value, str) else type(value).__name__
        super().__init__(f"not a whole number in range: {shown!r}")
        self.out_of_range = out_of_range


def parse_int(value: object, *, minimum: int, maximum: int) -> int:
    """The whole number `value` spells, from `minimum` to `maximum`; else `BadInteger`, and
    nothing else whatever the value (a file from a form, a megabyte of digits)."""
    assert 0 <= minimum <= maximum, "no sign is accepted, so bounds are not negative"
    if not (isinstance(value, str) and value and value.isascii() and value.isdecimal()):
        raise BadInteger(value, out_of_range=False)
    # Compared as text first: int() of a long string is slow, and refused past 4300 digits.
    significant = value.lstrip("0") or "0"
    if len(significant) > len(str(maximum)):
        raise BadInteger(value, out_of_range=True)
    number = int(significant)
    if not minimum <= number <= maximum:
        raise BadInteger(value, out_of_range=True)
    return number


def int_or_none(value: object, *, minimum: int, maximum: int) -> int | None:
    """`parse_int`, or None for any bad value."""
    try:
        return parse_int(value, minimum=minimum, maximum=maximum)
    except BadInteger:
        return None


def id_or_none(value: object) -> int | None:
    """An id (1 .. ID_MAX), or None for any bad value."""
    return int_or_none(value, minimum=1, maximum=ID_MAX)


def int_param(value: object, *, minimum: int = 1, maximum: int = ID_MAX) -> int | None:
    """A number from a query string or a hidden form field, an id unless the bounds say
    otherwise: None when absent or empty; a 400 when malformed, a 404 when out of range (it
    names nothing, like an id no row has)."""
    if value is None or value == "":
        return None
    try:
        return parse_int(value, minimum=minimum, maximum=maximum)
    except BadInteger as exc:
        raise HTTPException(404 if exc.out_of_range else 400) from None


def id_param(value: object) -> int | None:
    """`int_param` for an id."""
    return int_param(value)


def id_params(values: Iterable[object]) -> list[int]:
    """The ids of repeated fields (ticked boxes), empty ones skipped; `id_param` for each."""
    return [n for n in (id_param(value) for value in values) if n is not None]


def _one_to(maximum: int) -> str:
    """A regular expression for the numbers 1 .. `maximum`, without leading zeros."""
    digits = str(maximum)
    parts = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        low, high = (1 if i == 0 else 0), int(digit) - 1
        if low <= high:
            parts.append(f"{digits[:i]}[{low}-{high}][0-9]{{{len(digits) - i - 1}}}")
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


class IdConvertor(Convertor[int]):
    """`{name:id}` in a route's path: 1 .. ID_MAX in ASCII digits, no leading zero. Anything
    else does not match the route, so it is a 404 before any handler or query runs. (Starlette's
    `{name:int}` takes any number of digits: 2**63 was a 500 on SQLite, 2**31 on PostgreSQL.)"""

    regex = _one_to(ID_MAX)

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        if not 1 <= value <= ID_MAX:
            raise ValueError(f"not an id: {value!r}")
        return str(value)


register_url_convertor("id", IdConvertor())
