from __future__ import annotations

import re
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from cocreate.i18n import LOCALE_DIR, gettext, negotiate, using_locale

ROOT = Path(__file__).resolve().parents[2]


def test_every_string_in_code_and_templates_has_a_french_translation(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-o",
            str(pot),
            "--no-location",
            str(ROOT),
        ]
    )
    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        french = {m.id: m.string for m in read_po(f, locale="fr") if m.id}
    missing = sorted(str(m) for m in wanted if not french.get(m))
    assert not missing, f"run `make messages` and translate: {missing}"


def test_french_catalog_keeps_every_placeholder() -> None:
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        for message in read_po(f, locale="fr"):
            if message.id and message.string:
                for placeholder in ("%(name)s", "%(email)s", "%(n)d", "%(slug)s"):
                    assert (placeholder in str(message.id)) == (
                        placeholder in str(message.string)
                    ), message.id


def test_gettext_follows_the_current_locale() -> None:
    with using_locale("fr"):
        assert gettext("Log in") == "Se connecter"
    assert gettext("Log in") == "Log in"


def test_accept_language_picks_our_best_locale() -> None:
    assert negotiate("fr-CH, fr;q=0.9, en;q=0.8") == "fr"
    assert negotiate("de-DE,de;q=0.9,en;q=0.5") == "en"
    assert negotiate("de") == "en"
    assert negotiate(None) == "en"
    assert negotiate("fr;q=abc,;;;,") == "en"


def _formats_like(english: str, french: str) -> bool:
    """Both take the same named values: formatting each with the other's placeholders (as
    the templates' gettext always formats, values or not) raises for neither."""
    names = set(re.findall(r"%\((\w+)\)", english))
    values = {name: 1 for name in names}
    for text in (english, french):
        try:
            text % values
        except (ValueError, TypeError, KeyError):
            return False
    return set(re.findall(r"%\((\w+)\)", french)) <= names


def test_every_french_translation_formats_as_its_english_does() -> None:
    """A lone "%" in a translation ("Les N % meilleures idées") breaks the templates'
    gettext, which always applies `%`: the page fails in French only."""
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        broken = []
        for message in read_po(f, locale="fr"):
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if not ids[0] or not strings[0]:
                continue
            for french in strings:
                if not _formats_like(str(ids[-1]), str(french)):
                    broken.append(str(ids[0]))
    assert not broken, broken
