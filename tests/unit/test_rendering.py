"""The app's Jinja environment (cocreate/web.py) renders translations as Jinja's newstyle
gettext does: always a format string, the translation marked safe, its variables escaped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from cocreate import i18n
from cocreate.web import make_templates

# Every kind of variable a translation may get: escaped or not, formatted as %d, %s or %r.
STRINGS = """
{{ _("Vote") }}|{{ gettext("Take back my vote") }}|{{ _("100%% sure") }}
{{ _("No. %(n)d", n=3) }}|{{ _("No. %(n)d", n=True) }}|{{ _("No. %(n)d", n=2.5) }}
{{ _("Voting closes on %(time)s.", time=when) }}|{{ _("Voting closes on %(time)s.", time=safe) }}
{{ _("Voting closes on %(time)s.", time=7) }}|{{ _("Voting closes on %(time)s.", time=none) }}
{{ _("Voting closes on %(time)r.", time="<b>") }}|{{ _("Voting closes on %(time)r.", time=7) }}
{% for n in [0, 1, 2, 17] %}
{{ ngettext("%(num)d vote", "%(num)d votes", n) }}
{{ ngettext("You gave %(num)d point", "You gave %(num)d points", n, extra=when) }}
{% endfor %}
{% trans n=2 %}{{ n }} open report{% pluralize %}{{ n }} open reports{% endtrans %}
{% trans %}Plain <trans> text{% endtrans %}
"""
VALUES = {"when": "<b>Monday</b> & 'soon'", "safe": Markup("<em>Monday</em>")}


def jinja_own_environment() -> Environment:
    """A bare Jinja environment with its newstyle gettext."""
    env = Environment(
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    return env


@pytest.fixture(params=["en", "fr"])
def locale(request: pytest.FixtureRequest) -> Iterator[str]:
    with i18n.using_locale(request.param):
        yield request.param


def test_gettext_gives_what_jinja_newstyle_gettext_gives(locale: str) -> None:
    ours = make_templates().env.from_string(STRINGS).render(VALUES)
    theirs = jinja_own_environment().from_string(STRINGS).render(VALUES)
    assert ours == theirs
    assert "&lt;b&gt;Monday&lt;/b&gt; &amp; &#39;soon&#39;" in ours  # escaped
    assert "<em>Monday</em>" in ours  # markup kept
    assert "100% sure" in ours  # always a format string
    if locale == "fr":
        assert "17 votes" in ours and "Retirer mon vote" in ours


def test_templates_get_the_environment_globals() -> None:
    env = make_templates().env
    template = env.from_string("{{ _('Vote') }} {{ range(3)|list }}", globals={"extra": 1})
    assert template.render() == "Vote [0, 1, 2]"
    assert template.globals["extra"] == 1 and "extra" not in env.globals
