from __future__ import annotations

import re

from cocreate.campaigns.theme import AA_TEXT, _parse, contrast, theme_css

WHITE = (255, 255, 255)


def _var(css: str, name: str) -> tuple[int, int, int]:
    found = re.search(rf"--{name}: #([0-9a-f]{{6}})", css)
    assert found, css
    return _parse(found.group(1))


def test_any_brand_colour_gives_readable_links_and_buttons() -> None:
    for colour in ("ffff00", "b3261e", "777777", "000000", "ffffff", "00ff00", "1a5fb4"):
        css = theme_css(colour)
        assert contrast(_var(css, "accent"), WHITE) >= AA_TEXT, colour
        assert contrast(_var(css, "brand"), _var(css, "brand-ink")) >= AA_TEXT, colour


def test_a_dark_colour_is_kept_as_it_is() -> None:
    assert "--brand: #b3261e;" in theme_css("b3261e")
    assert "--accent: #b3261e;" in theme_css("b3261e")
