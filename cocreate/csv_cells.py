"""CSV cells that a spreadsheet shows as text, never runs as a formula.

An idea's title is written by anyone: "=HYPERLINK(...)" or "@SUM(...)" in an export becomes a
live formula when a marketer opens the file in a spreadsheet (CSV injection). OWASP's rule: a
text cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'` in
front, which spreadsheets take as "this is text" and do not show.

Only text is changed: numbers are written as they are (a negative number is data, and no
number begins with the other characters). Exports are neutralised as they are written;
the stored data is left as typed, and the certified vote log is never rewritten (its cells
are numbers, pseudonyms, keywords and timestamps: none begins with these characters).
"""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral_cell(value: object) -> object:
    """`value`, with a `'` in front when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutral_row(values: Iterable[object]) -> list[object]:
    """A row for `csv.writer.writerow`, every cell through `neutral_cell`."""
    return [neutral_cell(value) for value in values]
