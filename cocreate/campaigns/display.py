"""What the campaign pages show, computed before rendering: pure functions, no database.

Times are shown in the campaign's time zone (the one its "days" are counted in), written
the way the reader's language writes dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from cocreate.audit.models import AuditEvent
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.campaigns.service import can_close_early, can_edit_stage, can_extend, can_open_early
from cocreate.campaigns.timeline import (
    Countdown,
    Phase,
    TimelineState,
    countdown,
    format_duration,
    has_opened,
    phase,
    stage_kind_label,
    stage_name,
)
from cocreate.i18n import current_locale, ngettext
from cocreate.i18n import gettext as _
from cocreate.images import variant_key
from cocreate.storage import Storage


def local_time(moment: datetime, timezone: str) -> str:
    """ "Mar 1, 2026, 10:00 AM CET" / "1 mars 2026 10:00 CET"."""
    local = moment.astimezone(ZoneInfo(timezone))
    locale = current_locale()
    day = format_date(local, "medium", locale=locale)
    return f"{day}, {format_time(local, 'short', locale=locale)} {local.tzname() or ''}".strip()


def cover_url(storage: Storage, campaign: Campaign) -> str | None:
    """The large (JPEG) variant of the cover: what the page shows and link previews take."""
    if not campaign.cover_image:
        return None
    return storage.url(variant_key(campaign.cover_image, "large"))


@dataclass(frozen=True)
class TimelineRow:
    stage: Stage
    name: str
    kind_label: str
    opens: str
    closes: str
    status: str  # "closed", "open" or "upcoming"
    status_label: str


def timeline_rows(stages: Sequence[Stage], now: datetime, timezone: str) -> list[TimelineRow]:
    rows = []
    for stage in sorted(stages, key=lambda s: s.position):
        if stage.closes_at <= now:
            status, label = "closed", _("closed")
        elif stage.opens_at <= now:
            status, label = "open", _("open now")
        else:
            status, label = "upcoming", _("upcoming")
        rows.append(
            TimelineRow(
                stage=stage,
                name=stage_name(stage),
                kind_label=stage_kind_label(stage.kind),
                opens=local_time(stage.opens_at, timezone),
                closes=local_time(stage.closes_at, timezone),
                status=status,
                status_label=label,
            )
        )
    return rows


@dataclass(frozen=True)
class Action:
    label: str
    url: str
    primary: bool = False


@dataclass(frozen=True)
class NowPanel:
    """ "What you can do now": a sentence, and the links that go with it."""

    message: str
    actions: list[Action]


def what_you_can_do(
    campaign: Campaign, stages: Sequence[Stage], state: TimelineState, now: datetime
) -> NowPanel:
    base = f"/c/{campaign.slug}"
    ideas = Action(_("Browse the ideas"), f"{base}/ideas")
    ideas_exist = has_opened(stages, StageKind.SUBMISSION, now)
    current = state.current
    if current is not None and current.kind == StageKind.SUBMISSION:
        return NowPanel(
            _("Ideas are welcome now. Share yours!"),
            [Action(_("Submit an idea"), f"{base}/ideas/new", primary=True), ideas],
        )
    if current is not None and current.kind == StageKind.VOTING:
        return NowPanel(
            _("Voting is open: pick your favourite ideas."),
            [Action(_("Vote for ideas"), f"{base}/vote", primary=True)],
        )
    results = Action(_("See the results"), f"{base}/results")
    if current is not None and current.kind == StageKind.JURY:
        return NowPanel(_("The jury is reviewing the finalists."), [results])
    if current is not None and current.kind == StageKind.ANNOUNCEMENT:
        winners = Action(_("See the winners"), f"{base}/winners", primary=True)
        return NowPanel(_("The winners are announced!"), [winners, results])
    where = phase(state)
    if where == Phase.UPCOMING:
        return NowPanel(
            _("Nothing to do just yet: come back when the next stage opens."),
            [ideas] if ideas_exist else [],
        )
    if where == Phase.FINISHED:
        return NowPanel(
            _("This campaign is over. Thank you to everyone who took part!"),
            [Action(_("See the winners"), f"{base}/winners", primary=True), results],
        )
    return NowPanel(_("The timeline of this campaign is not set yet."), [])


@dataclass(frozen=True)
class CountdownView:
    """The server-rendered countdown, and what static/app.js needs to keep it current."""

    countdown: Countdown
    day_forms: tuple[str, str]  # "%(num)d day", "%(num)d days" in the reader's language
    hour_forms: tuple[str, str]
    minute_forms: tuple[str, str]
    under_a_minute: str
    reached: str

    @property
    def target_iso(self) -> str:
        return self.countdown.target.isoformat()


def countdown_view(state: TimelineState, now: datetime) -> CountdownView | None:
    found = countdown(state, now)
    if found is None:
        return None
    return CountdownView(
        countdown=found,
        day_forms=(
            ngettext("%(num)d day", "%(num)d days", 1),
            ngettext("%(num)d day", "%(num)d days", 2),
        ),
        hour_forms=(
            ngettext("%(num)d hour", "%(num)d hours", 1),
            ngettext("%(num)d hour", "%(num)d hours", 2),
        ),
        minute_forms=(
            ngettext("%(num)d minute", "%(num)d minutes", 1),
            ngettext("%(num)d minute", "%(num)d minutes", 2),
        ),
        under_a_minute=format_duration(found.target - found.target),
        reached=_("The timeline has just moved on: reload the page to see what is new."),
    )


def card_line(state: TimelineState, now: datetime) -> str:
    """One line for a campaign card: the countdown, or that it is over."""
    found = countdown(state, now)
    if found is not None:
        return found.text
    return _("Finished") if phase(state) == Phase.FINISHED else ""


@dataclass(frozen=True)
class ConsoleRow:
    """A timeline row in the marketer's console, with the actions allowed on it now."""

    row: TimelineRow
    can_edit: bool
    can_close: bool
    can_open: bool
    can_extend: bool
    can_move_up: bool
    can_move_down: bool


def console_rows(campaign: Campaign, stages: Sequence[Stage], now: datetime) -> list[ConsoleRow]:
    ordered = sorted(stages, key=lambda s: s.position)
    rows = timeline_rows(ordered, now, campaign.timezone)
    editable = [can_edit_stage(campaign, s, now) for s in ordered]
    return [
        ConsoleRow(
            row=row,
            can_edit=editable[i],
            can_close=can_close_early(campaign, row.stage, now),
            can_open=can_open_early(campaign, ordered, row.stage, now),
            can_extend=can_extend(campaign, row.stage, now),
            can_move_up=i > 0 and editable[i] and editable[i - 1],
            can_move_down=i + 1 < len(ordered) and editable[i] and editable[i + 1],
        )
        for i, row in enumerate(rows)
    ]


@dataclass(frozen=True)
class HistoryRow:
    at: str
    actor: str
    action: str
    stage: str
    reason: str
    before: str
    after: str


def _change_text(data: object, timezone: str) -> str:
    if not isinstance(data, dict):
        return ""
    parts = []
    for key, label in (("opens_at", _("opens")), ("closes_at", _("closes"))):
        value = data.get(key)
        if isinstance(value, str):
            try:
                parts.append(f"{label} {local_time(datetime.fromisoformat(value), timezone)}")
            except ValueError:
                continue
    return "; ".join(parts)


def history_rows(
    events: Sequence[tuple[AuditEvent, str | None]], timezone: str
) -> list[HistoryRow]:
    labels = {
        "stage.added": _("Stage added"),
        "stage.changed": _("Stage changed"),
        "stage.removed": _("Stage removed"),
        "stage.moved": _("Stage moved"),
        "stage.closed_early": _("Closed early"),
        "stage.opened_early": _("Opened early"),
        "stage.extended": _("Extended"),
    }
    rows = []
    for event, actor in events:
        data = event.data or {}
        position = data.get("position")
        kind = data.get("kind")
        stage = ""
        if isinstance(position, int) and isinstance(kind, str):
            stage = _("Stage %(n)d (%(kind)s)") % {
                "n": position + 1,
                "kind": stage_kind_label(kind),
            }
        reason = data.get("reason")
        rows.append(
            HistoryRow(
                at=local_time(event.at, timezone),
                actor=actor or _("a deleted account"),
                action=labels.get(event.action, event.action),
                stage=stage,
                reason=reason if isinstance(reason, str) else "",
                before=_change_text(data.get("before"), timezone),
                after=_change_text(data.get("after"), timezone),
            )
        )
    return rows
