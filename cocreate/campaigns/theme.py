"""A campaign's brand colour as a tiny stylesheet (the CSP forbids inline styles).

The colour a marketer picks may be too light for text: links get a darkened shade that
reaches WCAG AA contrast on white, and buttons get white or dark text, whichever reads best.
"""

from __future__ import annotations

import re

HEX_COLOR = re.compile(r"[0-9a-f]{6}")
DARK_INK = (0x1D, 0x1B, 0x20)
AA_TEXT = 4.5

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


def theme_css(hex6: str) -> str:
    """`.campaign-theme` rules for a brand colour given as six lower-case hex digits."""
    rgb = _parse(hex6)
    background, ink = on_brand(rgb)
    return (
        ".campaign-theme {"
        f" --brand: {_hex(background)};"
        f" --brand-ink: {_hex(ink)};"
        f" --accent: {_hex(readable_on_white(rgb))};"
        " }\n"
        ".campaign-theme .button.primary, .campaign-theme button.primary"
        " { background: var(--brand); color: var(--brand-ink); }\n"
        ".campaign-theme .campaign-hero { border-top: 6px solid var(--brand); }\n"
    )
