"""A campaign's brand colour as a tiny stylesheet (the CSP forbids inline styles).

The colour a marketer picks may be too light (or, in a dark scheme, too dark) for text:
links get a shade moved toward black (toward white in a dark scheme) until it reaches WCAG AA
contrast on the page, and buttons get white or dark text, whichever reads best
(docs/design.md).
"""

from __future__ import annotations

import colorsys
import re

HEX_COLOR = re.compile(r"[0-9a-f]{6}")
DARK_INK = (0x1D, 0x1B, 0x20)
AA_TEXT = 4.5
WHITE = (255, 255, 255)
# The darkest light background and the lightest dark one text sits on (static/app.css:
# --surface-2 in each scheme).
LIGHT_SURFACE = (0xF1, 0xEF, 0xF4)
DARK_SURFACE = (0x27, 0x24, 0x2D)

RGB = tuple[int, int, int]


def _parse(hex6: str) -> RGB:
    return (int(hex6[0:2], 16), int(hex6[2:4], 16), int(hex6[4:6], 16))


def _hex(rgb: RGB) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


def luminance(rgb: RGB) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else float(((s + 0.055) / 1.055) ** 2.4)

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable_on_white(rgb: RGB) -> RGB:
    """The colour, darkened step by step until text in it reads on white (AA)."""
    white = (255, 255, 255)
    shade = rgb
    factor = 1.0
    while contrast(shade, white) < AA_TEXT and factor > 0:
        factor = round(factor - 0.05, 2)
        shade = (int(rgb[0] * factor), int(rgb[1] * factor), int(rgb[2] * factor))
    return shade


def on_brand(rgb: RGB) -> tuple[RGB, RGB]:
    """The brand colour as a background and the ink that reads on it (AA): white or dark
    ink, or, for mid-tones that neither reads on, the colour darkened under white ink."""
    white = (255, 255, 255)
    ink = white if contrast(rgb, white) >= contrast(rgb, DARK_INK) else DARK_INK
    if contrast(rgb, ink) < AA_TEXT:
        return readable_on_white(rgb), white
    return rgb, ink


def brand_colours(color: str | None) -> tuple[str, str]:
    """`on_brand` for a "#rrggbb" colour (the default red when it is not one), as hex."""
    hex6 = (color or "").lstrip("#").lower()
    background, ink = on_brand(_parse(hex6 if HEX_COLOR.fullmatch(hex6) else "b3261e"))
    return _hex(background), _hex(ink)


def mix(a: RGB, b: RGB, share_of_b: float) -> RGB:
    """`a` moved toward `b` by `share_of_b` (0: a, 1: b), channel by channel."""
    return (
        round(a[0] + (b[0] - a[0]) * share_of_b),
        round(a[1] + (b[1] - a[1]) * share_of_b),
        round(a[2] + (b[2] - a[2]) * share_of_b),
    )


def readable_on(rgb: RGB, background: RGB) -> RGB:
    """The colour, moved step by step toward black on a light background (toward white on
    a dark one) until text in it reads on `background` (AA)."""
    target = (0, 0, 0) if luminance(background) > 0.18 else (255, 255, 255)
    shade, step = rgb, 0
    while contrast(shade, background) < AA_TEXT and step < 20:
        step += 1
        shade = mix(rgb, target, step / 20)
    return shade


def second_colour(rgb: RGB, ink: RGB) -> RGB:
    """The far end of the brand's gradient (hero, placeholder art): the hue turned by 30°,
    then moved away from `ink` until `ink` still reads on it (AA)."""
    h, lightness, s = colorsys.rgb_to_hls(*(c / 255 for c in rgb))
    r, g, b = colorsys.hls_to_rgb((h - 30 / 360) % 1, lightness, s)
    turned = (round(r * 255), round(g * 255), round(b * 255))
    away = (0, 0, 0) if ink == WHITE else (255, 255, 255)
    shade, step = turned, 0
    while contrast(shade, ink) < AA_TEXT and step < 20:
        step += 1
        shade = mix(turned, away, step / 20)
    return shade


def theme_css(hex6: str) -> str:
    """`.campaign-theme` tokens for a brand colour given as six lower-case hex digits: the
    brand as a background with its ink, the gradient's second colour, and the accent (links,
    buttons) made readable on the light scheme's surfaces and, in a dark scheme, on its own."""
    rgb = _parse(hex6)
    background, ink = on_brand(rgb)
    accent_dark = readable_on(rgb, DARK_SURFACE)
    return (
        ".campaign-theme {"
        f" --brand: {_hex(background)};"
        f" --brand-ink: {_hex(ink)};"
        f" --brand-2: {_hex(second_colour(background, ink))};"
        f" --accent: {_hex(readable_on(rgb, LIGHT_SURFACE))};"
        " --accent-ink: #ffffff;"
        " }\n"
        "@media (prefers-color-scheme: dark) { .campaign-theme {"
        f" --accent: {_hex(accent_dark)};"
        f" --accent-ink: {_hex(DARK_INK)};"
        " } }\n"
    )
