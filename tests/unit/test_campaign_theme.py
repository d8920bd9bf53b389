from __future__ import annotations

import re

from cocreate.campaigns.theme import (
    AA_TEXT,
    DARK_SURFACE,
    LIGHT_SURFACE,
    _parse,
    contrast,
    theme_css,
)

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


def _dark_block(css: str) -> str:
    return css.split("@media (prefers-color-scheme: dark)", 1)[1]


def test_links_read_in_both_schemes_and_the_gradient_under_the_brand_ink() -> None:
    for colour in ("ffff00", "b3261e", "777777", "000000", "ffffff", "00ff00", "1a5fb4", "2b2b2b"):
        css = theme_css(colour)
        light, dark = css.split("@media", 1)
        assert contrast(_var(light, "accent"), LIGHT_SURFACE) >= AA_TEXT, colour
        assert contrast(_var(light, "accent"), _var(light, "accent-ink")) >= AA_TEXT, colour
        assert contrast(_var(_dark_block(css), "accent"), DARK_SURFACE) >= AA_TEXT, colour
        assert contrast(_var(dark, "accent"), _var(dark, "accent-ink")) >= AA_TEXT, colour
        assert contrast(_var(light, "brand-2"), _var(light, "brand-ink")) >= AA_TEXT, colour


def test_a_dark_brand_is_lightened_for_the_dark_scheme() -> None:
    dark = _dark_block(theme_css("1a1a66"))
    assert _var(dark, "accent") != _parse("1a1a66")
    assert contrast(_var(dark, "accent"), DARK_SURFACE) >= AA_TEXT
