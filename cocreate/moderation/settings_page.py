"""A brand's moderation settings page (owners only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cocreate.forms import Form, form_read
from cocreate.i18n import gettext as _
from cocreate.integers import int_or_none
from cocreate.moderation.brand_settings import MODES, get_settings, save_settings
from cocreate.moderation.labels import BUILTIN_REASONS, builtin_reason_label
from cocreate.moderation.page_helpers import base_path, load_brand, signed_in_user
from cocreate.moderation.queue import brand_campaigns
from cocreate.security.access import db
from cocreate.web import redirect, render


def _lines(text: str, *, max_items: int = 500, max_length: int = 200) -> list[str]:
    seen: dict[str, None] = {}
    for line in text.splitlines():
        cleaned = " ".join(line.split())[:max_length]
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)[:max_items]


def settings_page(request: Request) -> Response:
    brand, user, session = load_brand(request), signed_in_user(request), db(request)
    settings = get_settings(session=session, brand_id=brand.id or 0)
    campaigns = brand_campaigns(session=session, brand=brand)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = Form(form_read(request))
        threshold_text = form.raw("report_threshold").strip()
        threshold = int_or_none(threshold_text, minimum=1, maximum=1000)
        if threshold is None:
            errors["report_threshold"] = _("Enter a whole number from 1 to 1000.")
        blocklist = _lines(form.text("blocklist", max_length=20000, required=False, multiline=True))
        custom = _lines(
            form.text("custom_reasons", max_length=5000, required=False, multiline=True),
            max_items=30,
        )
        builtin = [v for v in form.data.getlist("builtin_reasons") if isinstance(v, str)]
        if not custom and not any(code in BUILTIN_REASONS for code in builtin):
            errors["custom_reasons"] = _("Keep at least one reason for rejections.")
        modes = {}
        for campaign in campaigns:
            value = form.raw(f"mode_{campaign.id}")
            if value in MODES and campaign.id is not None:
                modes[campaign.id] = value
        errors |= form.errors
        if not errors:
            save_settings(
                session=session,
                brand=brand,
                actor=user,
                auto_reject_spam=form.raw("auto_reject_spam") == "yes",
                report_threshold=threshold or 1,
                blocklist=blocklist,
                builtin_reasons=builtin,
                custom_reasons=custom,
                campaign_modes=modes,
                clock=request.app.state.clock,
            )
            return redirect(
                f"{base_path(brand)}/settings",
                flash=_("Moderation settings saved."),
                request=request,
            )
    context = {
        "brand": brand,
        "settings": settings,
        "campaigns": campaigns,
        "builtin_reasons": [(c, builtin_reason_label(c)) for c in BUILTIN_REASONS],
        "errors": errors,
        "base": base_path(brand),
    }
    return render(request, "moderation/settings.html", context, status_code=400 if errors else 200)
