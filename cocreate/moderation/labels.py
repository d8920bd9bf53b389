"""What moderation shows people, in their language: rejection and report reasons, flags,
decisions, and how long something waited."""

from __future__ import annotations

from datetime import datetime, timedelta

from cocreate.i18n import gettext as _
from cocreate.moderation.models import Action, FlagKind

BUILTIN_REASONS = ("off_topic", "duplicate", "offensive", "spam", "rules", "unclear", "personal")
REPORT_REASONS = ("spam", "offensive", "off_topic", "copyright", "personal", "other")


def builtin_reason_label(code: str) -> str:
    labels = {
        "off_topic": _("Not about this campaign"),
        "duplicate": _("Already proposed by someone else"),
        "offensive": _("Offensive or hateful content"),
        "spam": _("Advertising or spam"),
        "rules": _("Breaks the campaign rules"),
        "unclear": _("Too unclear to understand"),
        "personal": _("Contains personal information"),
    }
    return labels.get(code, code)


def reason_label(code: str) -> str:
    """The text of a rejection reason in the current language (a brand's own reasons as written)."""
    return builtin_reason_label(code) if code in BUILTIN_REASONS else code


def report_reason_label(code: str) -> str:
    labels = {
        "spam": _("Advertising or spam"),
        "offensive": _("Offensive or hateful"),
        "off_topic": _("Not about this campaign"),
        "copyright": _("Copied from someone else"),
        "personal": _("Shares personal information"),
        "other": _("Something else"),
    }
    return labels.get(code, code)


def flag_label(kind: str) -> str:
    labels: dict[str, str] = {
        FlagKind.BLOCKLIST: _("Blocklisted word"),
        FlagKind.LINK: _("Link (spam?)"),
        FlagKind.PHONE: _("Phone number (spam?)"),
        FlagKind.EMAIL: _("Email address (spam?)"),
        FlagKind.DUPLICATE: _("Looks like another idea"),
        FlagKind.TOO_SHORT: _("Very short"),
        FlagKind.ALL_CAPS: _("All in capitals"),
        FlagKind.ESCALATED: _("Escalated to the brand owner"),
    }
    return labels.get(kind, kind)


def action_label(action: str) -> str:
    labels: dict[str, str] = {
        Action.APPROVE: _("Approved"),
        Action.REJECT: _("Rejected"),
        Action.REQUEST_CHANGES: _("Changes requested"),
        Action.MERGE: _("Merged"),
        Action.ESCALATE: _("Escalated"),
        Action.UNDO: _("Undone"),
        Action.HIDE: _("Hidden after reports"),
        Action.RESUBMIT: _("Resubmitted by the author"),
    }
    return labels.get(action, action)


def duration_text(delta: timedelta | None) -> str:
    """A short, rounded duration for people: "45 s", "12 min", "5 h", "3 d"."""
    if delta is None:
        return "—"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return _("%(n)d s") % {"n": seconds}
    if seconds < 3600:
        return _("%(n)d min") % {"n": seconds // 60}
    if seconds < 2 * 86400:
        return _("%(n)d h") % {"n": seconds // 3600}
    return _("%(n)d d") % {"n": seconds // 86400}


def waiting_for(since: datetime | None, now: datetime) -> str:
    return duration_text(now - since if since else None)
