from __future__ import annotations

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
