"""Reading the console's forms: every bad value becomes a named error, nothing raises."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import FormData

from cocreate.campaigns.forms import read_campaign, read_local_time, read_reason, read_stage
from cocreate.forms import Form

GOOD = {
    "title": "Summer flavours",
    "slug": "summer-flavours",
    "summary": "Invent one.",
    "brief": "**Tell us**",
    "rules": "",
    "prizes": "",
    "primary_color": "#B3261E",
    "categories": "Sweet\nSavoury\n\nsweet\n  Spicy  ",
    "submission_limit": "3",
    "timezone": "Europe/Paris",
}


def form(values: dict[str, str], *, languages: tuple[str, ...] = ("en", "fr")) -> Form:
    items = list(values.items()) + [("languages", code) for code in languages]
    return Form(FormData(items))


def test_a_good_campaign_form_reads_cleanly() -> None:
    f = form(GOOD)
    data = read_campaign(f)
    assert f.errors == {}
    assert data.primary_color == "#b3261e"
    assert data.categories == ["Sweet", "Savoury", "Spicy"]  # blank lines and repeats dropped
    assert data.languages == ["en", "fr"] and data.submission_limit == 3


def test_bad_values_each_get_their_own_error() -> None:
    f = form(
        {
            **GOOD,
            "slug": "Summer Flavours!",
            "primary_color": "red",
            "timezone": "Mars/Olympus_Mons",
            "submission_limit": "0",
            "categories": "x" * 61,
        },
        languages=("de",),
    )
    read_campaign(f)
    assert set(f.errors) == {
        "slug",
        "primary_color",
        "timezone",
        "submission_limit",
        "categories",
        "languages",
    }
    assert "lower-case letters" in f.errors["slug"]
    assert "#b3261e" in f.errors["primary_color"]
    assert "Europe/Paris" in f.errors["timezone"]


def test_time_zones_come_only_from_the_list() -> None:
    for name in ("../../etc/passwd", "/usr/share/zoneinfo/UTC", "", "utc ", "Europe/"):
        f = form({**GOOD, "timezone": name})
        read_campaign(f)
        assert "timezone" in f.errors, name


def test_reserved_and_too_short_slugs_are_refused() -> None:
    for slug in ("new", "a", "-x", "x--y", "x-", "é-t-é"):
        f = form({**GOOD, "slug": slug})
        read_campaign(f)
        assert "slug" in f.errors, slug


def test_megabyte_fields_are_refused_with_the_limit() -> None:
    f = form({**GOOD, "brief": "x" * 1_000_000, "title": "t" * 1_000_000})
    data = read_campaign(f)
    assert f.errors["brief"] == "Use at most 20000 characters."
    assert f.errors["title"] == "Use at most 160 characters."
    assert len(data.brief) == 20_000  # bounded, so a re-rendered form stays small


def test_local_times_are_read_in_the_campaign_zone_and_stored_in_utc() -> None:
    f = form({"opens_at": "2026-07-01T09:30"})
    assert read_local_time(f, "opens_at", ZoneInfo("Europe/Paris")) == datetime(
        2026, 7, 1, 7, 30, tzinfo=UTC
    )
    assert f.errors == {}


def test_a_time_skipped_by_the_clock_change_is_refused() -> None:
    f = form({"opens_at": "2026-03-29T02:30"})  # Paris jumps from 02:00 to 03:00
    assert read_local_time(f, "opens_at", ZoneInfo("Europe/Paris")) is None
    assert "does not exist in Europe/Paris" in f.errors["opens_at"]


def test_badly_written_or_far_away_times_are_refused() -> None:
    for value in ("tomorrow", "2026-13-01T10:00", "2026-07-01T10:00+02:00", "9999-12-31T23:59"):
        f = form({"opens_at": value})
        assert read_local_time(f, "opens_at", ZoneInfo("UTC")) is None, value
        assert "opens_at" in f.errors


def test_a_stage_must_close_after_it_opens() -> None:
    f = form({"kind": "voting", "opens_at": "2026-07-02T10:00", "closes_at": "2026-07-01T10:00"})
    read_stage(f, timezone="UTC")
    assert f.errors == {"closes_at": "The stage must close after it opens."}


def test_an_unknown_stage_kind_is_refused() -> None:
    f = form({"kind": "party", "opens_at": "2026-07-01T10:00", "closes_at": "2026-07-02T10:00"})
    read_stage(f, timezone="UTC")
    assert f.errors == {"kind": "Choose one of the options."}


def test_a_reason_is_required() -> None:
    f = form({"reason": "   "})
    read_reason(f)
    assert f.errors == {"reason": "This field is required."}


@given(
    st.dictionaries(st.sampled_from(sorted(GOOD) + ["kind", "opens_at", "closes_at"]), st.text())
)
def test_no_input_makes_the_readers_raise(values: dict[str, str]) -> None:
    f = form(values)
    read_campaign(f)
    read_stage(f, timezone="Europe/Paris")
    read_reason(f)
