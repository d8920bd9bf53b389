"""Reading the round settings form into checked values (no database here).

Every problem is recorded under its field's name so the page shows them all at once. Rules
that need the clock (a round that has opened keeps its rules) live in `rounds.py`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from babel import Locale

from cocreate.forms import Form
from cocreate.fraud.policy import FraudPolicy, Middle
from cocreate.i18n import current_locale
from cocreate.i18n import gettext as _
from cocreate.integers import int_or_none
from cocreate.voting.methods import method_named, registry
from cocreate.voting.models import Advancement, Frequency, Round, TieBreak, Visibility

MAX_VOTES_LIMIT = 1000
ACCOUNT_AGE_LIMIT = 3650
ADVANCEMENT_LIMIT = 100_000
COUNTRIES_MAX = 250
# Two-letter codes babel knows that are not countries a person lives in.
NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})


@cache
def country_codes() -> frozenset[str]:
    codes = (str(code) for code in Locale("en").territories)
    return frozenset(code for code in codes if len(code) == 2 and code.isalpha()) - NOT_COUNTRIES


def country_name(code: str) -> str:
    """The country's name in the reader's language ("France", "Allemagne")."""
    return str(Locale.parse(current_locale()).territories.get(code, code))


def country_choices(codes: list[str] | None = None) -> list[tuple[str, str]]:
    """(code, name) pairs sorted by name in the reader's language."""
    return sorted(
        ((code, country_name(code)) for code in (codes or country_codes())),
        key=lambda pair: pair[1].casefold(),
    )


@dataclass(frozen=True)
class RoundInput:
    method: str
    max_votes: int
    points_budget: int
    frequency: str
    require_verified_email: bool
    min_account_age_days: int
    countries: list[str]
    advancement: str
    advancement_value: int
    tie_break: str
    visibility: str
    # The fraud policy (Round.fraud_policy): can change while the round is open, to answer
    # an attack as it happens.
    fraud_challenge_above: int = FraudPolicy.challenge_above
    fraud_refuse_above: int = FraudPolicy.refuse_above
    fraud_middle: str = FraudPolicy.middle

    def policy(self) -> FraudPolicy:
        return FraudPolicy(
            challenge_above=self.fraud_challenge_above,
            refuse_above=self.fraud_refuse_above,
            middle=self.fraud_middle,
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


OPEN_FIELDS = ("visibility", "fraud_challenge_above", "fraud_refuse_above", "fraud_middle")
RULE_FIELDS = tuple(
    name for name in RoundInput.__dataclass_fields__ if name not in OPEN_FIELDS
)  # what a round that has opened keeps
FRAUD_FIELDS = OPEN_FIELDS[1:]


def round_values(round_: Round) -> RoundInput:
    return RoundInput(
        method=round_.method,
        max_votes=round_.max_votes,
        points_budget=round_.points_budget,
        frequency=round_.frequency,
        require_verified_email=round_.require_verified_email,
        min_account_age_days=round_.min_account_age_days,
        countries=list(round_.countries),
        advancement=round_.advancement,
        advancement_value=round_.advancement_value,
        tie_break=round_.tie_break,
        visibility=round_.visibility,
        **policy_values(FraudPolicy.from_json(round_.fraud_policy)),
    )


def policy_values(policy: FraudPolicy) -> dict[str, Any]:
    return {
        "fraud_challenge_above": policy.challenge_above,
        "fraud_refuse_above": policy.refuse_above,
        "fraud_middle": str(policy.middle),
    }


def middle_choices() -> list[tuple[str, str]]:
    return [
        (Middle.CHALLENGE, _("Ask for a quick check in the browser (proof of work), then count")),
        (Middle.HOLD, _("Keep the vote but hold it for review: it counts only once released")),
    ]


def read_policy(form: Form, current: RoundInput | None = None) -> dict[str, Any]:
    """The fraud policy fields, checked; a dict of RoundInput's fraud_* values. A form that
    has none of them (an older page, a script) keeps the `current` policy."""
    if not any(name in form.data for name in FRAUD_FIELDS):
        if current is None:
            return policy_values(FraudPolicy())
        return {name: getattr(current, name) for name in FRAUD_FIELDS}
    challenge = whole_number(form, "fraud_challenge_above", 0, 100, default=0)
    refuse = whole_number(form, "fraud_refuse_above", 0, 100, default=100)
    middle = form.choice("fraud_middle", [m.value for m in Middle])
    if not form.errors.get("fraud_refuse_above") and not form.errors.get("fraud_challenge_above"):
        if refuse < challenge:
            form.errors["fraud_refuse_above"] = _(
                "The refusal threshold cannot be below the check threshold."
            )
    return {
        "fraud_challenge_above": challenge,
        "fraud_refuse_above": refuse,
        "fraud_middle": middle,
    }


def whole_number(form: Form, name: str, low: int, high: int, *, default: int) -> int:
    raw = form.text(name, max_length=8, required=False)
    if name in form.errors:
        return default
    if not raw:
        form.errors[name] = _("Enter a whole number from %(low)d to %(high)d.") % {
            "low": low,
            "high": high,
        }
        return default
    number = int_or_none(raw, minimum=low, maximum=high)
    if number is None:
        form.errors[name] = _("Enter a whole number from %(low)d to %(high)d.") % {
            "low": low,
            "high": high,
        }
        return default
    return number


def _countries(form: Form) -> list[str]:
    raw = form.text("countries", max_length=COUNTRIES_MAX * 4, required=False)
    codes: list[str] = []
    unknown: list[str] = []
    for part in re.split(r"[\s,;]+", raw.upper()):
        if not part or part in codes:
            continue
        (codes if part in country_codes() else unknown).append(part)
    if unknown:
        form.errors["countries"] = _(
            "Unknown country codes: %(codes)s. Use two-letter codes like FR, BE, CH."
        ) % {"codes": ", ".join(unknown[:10])}
    return sorted(codes)


def visibility_choices() -> list[tuple[str, str]]:
    return [
        (Visibility.HIDDEN, _("Hidden: no counts and no ranks until the results")),
        (Visibility.RANKS, _("Ranks only: ideas in order, without the counts")),
        (Visibility.LIVE, _("Live counts: everyone sees the votes as they come in")),
    ]


def read_visibility(form: Form) -> str:
    return form.choice("visibility", [v.value for v in Visibility])


def read_round(form: Form, current: RoundInput | None = None) -> RoundInput:
    method = form.choice("method", registry.names())
    max_votes = whole_number(form, "max_votes", 1, MAX_VOTES_LIMIT, default=1)
    points_budget = 0
    known = method in registry.names()
    if known:  # the method reads the settings it uses
        max_votes, points_budget = method_named(method).read_settings(form, max_votes)
    frequency = form.choice("frequency", [f.value for f in Frequency])
    require_verified_email = form.raw("require_verified_email") == "on"
    min_account_age_days = whole_number(
        form, "min_account_age_days", 0, ACCOUNT_AGE_LIMIT, default=0
    )
    countries = _countries(form)
    advancement = form.choice("advancement", [a.value for a in Advancement])
    advancement_value = 0
    if advancement == Advancement.TOP_PERCENT:
        advancement_value = whole_number(form, "advancement_value", 1, 100, default=0)
    elif advancement in (Advancement.TOP_N, Advancement.MIN_VOTES):
        advancement_value = whole_number(form, "advancement_value", 1, ADVANCEMENT_LIMIT, default=0)
    tie_break = form.choice("tie_break", [t.value for t in TieBreak])
    visibility = read_visibility(form)
    data = RoundInput(
        method=method,
        max_votes=max_votes,
        points_budget=points_budget,
        frequency=frequency,
        require_verified_email=require_verified_email,
        min_account_age_days=min_account_age_days,
        countries=countries,
        advancement=advancement,
        advancement_value=advancement_value,
        tie_break=tie_break,
        visibility=visibility,
        **read_policy(form, current),
    )
    if known:  # the method's rules on the other settings
        for name, problem in method_named(method).settings_problems(data).items():
            form.errors.setdefault(name, problem)
    return data


def form_values(form: Form) -> dict[str, str]:
    """What the marketer typed, to show the form again with its errors."""
    names = (
        "method",
        "max_votes",
        "points_budget",
        "frequency",
        "min_account_age_days",
        "countries",
        "advancement",
        "advancement_value",
        "tie_break",
        "visibility",
        *FRAUD_FIELDS,
    )
    values = {name: form.raw(name)[:200] for name in names}
    values["require_verified_email"] = "on" if form.raw("require_verified_email") == "on" else ""
    return values


def input_values(data: RoundInput) -> dict[str, str]:
    """A round's settings as form values."""
    return {
        "method": data.method,
        "max_votes": str(data.max_votes),
        "points_budget": str(data.points_budget) if data.points_budget else "",
        "frequency": data.frequency,
        "require_verified_email": "on" if data.require_verified_email else "",
        "min_account_age_days": str(data.min_account_age_days),
        "countries": ", ".join(data.countries),
        "advancement": data.advancement,
        "advancement_value": str(data.advancement_value) if data.advancement_value else "",
        "tie_break": data.tie_break,
        "visibility": data.visibility,
        "fraud_challenge_above": str(data.fraud_challenge_above),
        "fraud_refuse_above": str(data.fraud_refuse_above),
        "fraud_middle": data.fraud_middle,
    }
