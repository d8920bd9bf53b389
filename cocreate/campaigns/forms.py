"""Reading the marketer's campaign and stage forms into checked values (no database here).

Each reader records every problem in the `Form`'s errors under the field's name, so the page
can show them all at once; uniqueness and timeline rules that need the database live in
the service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from cocreate.campaigns.models import StageKind
from cocreate.forms import Form, clean_text
from cocreate.i18n import LOCALES
from cocreate.i18n import gettext as _
from cocreate.integers import int_or_none

TITLE_MAX = 160
SUMMARY_MAX = 300
MARKDOWN_MAX = 20_000
SLUG_MIN, SLUG_MAX = 2, 80
CATEGORY_MAX = 60  # ideas.category holds 60 characters
CATEGORIES_MAX = 30
SUBMISSION_LIMIT_MAX = 100
STAGE_TITLE_MAX = 120
REASON_MAX = 500
# Stage times further out are typing mistakes (and year 9999 overflows time zone arithmetic).
FIRST_YEAR, LAST_YEAR = 2000, 2100

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
COLOR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")
# Words the console uses in its own addresses (/brands/{brand}/campaigns/new).
RESERVED_SLUGS = frozenset({"new", "theme"})
LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


@cache
def time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    # Only names from the system's list: ZoneInfo() alone would also try paths like "../x".
    return name in time_zones()


@dataclass(frozen=True)
class CampaignInput:
    title: str
    slug: str
    summary: str
    brief: str
    rules: str
    prizes: str
    primary_color: str
    categories: list[str]
    languages: list[str]
    submission_limit: int
    timezone: str


def read_campaign(form: Form) -> CampaignInput:
    title = form.text("title", max_length=TITLE_MAX)
    slug = form.text("slug", max_length=SLUG_MAX).lower()
    if "slug" not in form.errors:
        if len(slug) < SLUG_MIN or not SLUG_PATTERN.fullmatch(slug):
            form.errors["slug"] = _(
                "Use lower-case letters, digits and single hyphens, like summer-flavours."
            )
        elif slug in RESERVED_SLUGS:
            form.errors["slug"] = _("This address is reserved. Choose another one.")
    summary = form.text("summary", max_length=SUMMARY_MAX, required=False)
    brief = form.text("brief", max_length=MARKDOWN_MAX, required=False, multiline=True)
    rules = form.text("rules", max_length=MARKDOWN_MAX, required=False, multiline=True)
    prizes = form.text("prizes", max_length=MARKDOWN_MAX, required=False, multiline=True)
    color = form.text("primary_color", max_length=64)
    if "primary_color" not in form.errors and not COLOR_PATTERN.fullmatch(color):
        form.errors["primary_color"] = _("Enter a colour as # and six hex digits, like #b3261e.")
        color = color[:7]
    return CampaignInput(
        title=title,
        slug=slug,
        summary=summary,
        brief=brief,
        rules=rules,
        prizes=prizes,
        primary_color=color.lower(),
        categories=_categories(form),
        languages=_languages(form),
        submission_limit=_submission_limit(form),
        timezone=_time_zone(form),
    )


def _categories(form: Form) -> list[str]:
    raw = form.text(
        "categories",
        max_length=(CATEGORY_MAX + 1) * CATEGORIES_MAX,
        required=False,
        multiline=True,
    )
    categories: list[str] = []
    seen: set[str] = set()
    for line in raw.split("\n"):
        name = clean_text(line)
        if not name or name.casefold() in seen:
            continue
        if len(name) > CATEGORY_MAX:
            form.errors["categories"] = _("Each category can have at most %(n)d characters.") % {
                "n": CATEGORY_MAX
            }
        seen.add(name.casefold())
        categories.append(name)
    if len(categories) > CATEGORIES_MAX:
        form.errors["categories"] = _("Use at most %(n)d categories.") % {"n": CATEGORIES_MAX}
    return categories


def _languages(form: Form) -> list[str]:
    chosen = {v for v in form.data.getlist("languages") if isinstance(v, str)}
    languages = [code for code in LOCALES if code in chosen]
    if not languages:
        form.errors["languages"] = _("Choose at least one language.")
    return languages


def _submission_limit(form: Form) -> int:
    raw = form.text("submission_limit", max_length=6)
    if "submission_limit" in form.errors:
        return 1
    number = int_or_none(raw, minimum=1, maximum=SUBMISSION_LIMIT_MAX)
    if number is None:
        form.errors["submission_limit"] = _("Enter a whole number from 1 to %(n)d.") % {
            "n": SUBMISSION_LIMIT_MAX
        }
        return 1
    return number


def _time_zone(form: Form) -> str:
    name = form.text("timezone", max_length=64)
    if "timezone" not in form.errors and not is_time_zone(name):
        form.errors["timezone"] = _("Choose a time zone from the list, like Europe/Paris.")
    return name


@dataclass(frozen=True)
class StageInput:
    kind: str
    title: str
    opens_at: datetime  # UTC
    closes_at: datetime  # UTC


def read_stage(form: Form, *, timezone: str) -> StageInput:
    zone = ZoneInfo(timezone)
    kind = form.choice("kind", [k.value for k in StageKind])
    title = form.text("title", max_length=STAGE_TITLE_MAX, required=False)
    opens_at = read_local_time(form, "opens_at", zone)
    closes_at = read_local_time(form, "closes_at", zone)
    if opens_at and closes_at and closes_at <= opens_at and "closes_at" not in form.errors:
        form.errors["closes_at"] = _("The stage must close after it opens.")
    placeholder = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)  # only returned with errors
    return StageInput(kind, title, opens_at or placeholder, closes_at or placeholder)


def read_local_time(form: Form, name: str, zone: ZoneInfo) -> datetime | None:
    """A date and time typed in the campaign's zone, as UTC; None (and an error) if invalid."""
    raw = form.text(name, max_length=40)
    if name in form.errors:
        return None
    try:
        local = datetime.fromisoformat(raw.replace(" ", "T", 1))
    except ValueError:
        local = None
    if local is None or local.tzinfo is not None:
        form.errors[name] = _("Enter a date and time like 2026-03-01 09:00.")
        return None
    if not FIRST_YEAR <= local.year <= LAST_YEAR:
        form.errors[name] = _("Enter a year from %(first)d to %(last)d.") % {
            "first": FIRST_YEAR,
            "last": LAST_YEAR,
        }
        return None
    local = local.replace(second=0, microsecond=0)
    utc = local.replace(tzinfo=zone).astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local:
        form.errors[name] = _(
            "This time does not exist in %(zone)s: the clocks change then. Choose another."
        ) % {"zone": zone.key}
        return None
    return utc


def read_reason(form: Form) -> str:
    return form.text("reason", max_length=REASON_MAX, min_length=5)


def local_input_value(moment: datetime, timezone: str) -> str:
    """A UTC time as the value of a datetime-local input in the campaign's zone."""
    return moment.astimezone(ZoneInfo(timezone)).strftime(LOCAL_INPUT_FORMAT)
