"""Share cards: the 1200 × 630 picture a social network shows with a shared link.

A `Card` says what the picture shows (the brand's name, a title, a line under it, a call to
action, the brand's colours, and maybe a photo); `render` draws it with Pillow and the
DejaVu fonts vendored in `static/fonts` (no system font is assumed). Text is fitted, not
cut: the title is wrapped and set smaller until it fits its box, and only a title too long
for four lines at the smallest size ends with an ellipsis. Characters the font cannot draw
(most emoji) are left out rather than drawn as empty boxes; French accents are kept.

`digest(card)` names a card by everything drawn on it, so a changed title or colour makes a
new picture (and a new `?v=` in the page's og:image, which social networks cache by URL).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont, ImageOps, PngImagePlugin

WIDTH, HEIGHT = 1200, 630
PAD = 72
PICTURE_WIDTH = 480  # the photo's column on the right, when there is one
TITLE_SIZES = (76, 68, 60, 54, 48, 42)  # largest first; lines allowed grow as sizes shrink
LINE_SIZE = 30
EYEBROW_SIZE = 28
CALL_SIZE = 30
MAX_PICTURE_PIXELS = 4_000_000  # our stored variants are at most 1200 × 1200
RENDERING = "1"  # bump when the drawing changes: every card is drawn again

FONTS = Path(__file__).resolve().parents[2] / "static" / "fonts"
REGULAR = FONTS / "DejaVuSans.ttf"
BOLD = FONTS / "DejaVuSans-Bold.ttf"

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Card:
    eyebrow: str  # the brand's name
    title: str
    line: str  # under the title: the campaign, or the idea's author
    call: str  # the call to action, in the page's language
    background: str  # "#rrggbb": the brand's colour, made readable (campaigns.theme)
    ink: str  # "#rrggbb": text on the background
    picture_key: str | None = None  # storage key of the photo, if any


def digest(card: Card) -> str:
    payload = json.dumps([RENDERING, asdict(card)], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


@cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


@cache
def _drawable(path: Path) -> frozenset[int]:
    with TTFont(str(path), lazy=True) as font:
        return frozenset(font["cmap"].getBestCmap())


def drawable_text(text: str, path: Path = BOLD) -> str:
    """`text` without what the font cannot draw (emoji, their joiners and selectors), with
    its spaces folded."""
    glyphs = _drawable(path)
    kept = "".join(
        ch
        for ch in unicodedata.normalize("NFC", text)
        # Format characters (an emoji's joiners) and variation selectors go with the emoji.
        if ord(ch) in glyphs
        and unicodedata.category(ch) != "Cf"
        and not 0xFE00 <= ord(ch) <= 0xFE0F
        or ch.isspace()
    )
    return re.sub(r"\s+", " ", kept).strip()


@dataclass(frozen=True)
class Block:
    lines: list[str]
    size: int
    line_height: int


def _width(text: str, font: ImageFont.FreeTypeFont) -> float:
    return font.getlength(text)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Words into lines no wider than `width`; a word wider than a line is cut."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        while _width(word, font) > width:  # a very long word: cut where it overflows
            cut = max(
                1, next(i for i in range(1, len(word) + 1) if _width(word[:i], font) > width) - 1
            )
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{current} {word}".strip()
        if _width(candidate, font) <= width:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _ellipsized(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    if _width(text, font) <= width:
        return text
    while text and _width(text + "…", font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def fit_title(title: str, width: int, height: int) -> Block:
    """The title's lines at the largest size whose lines fit `width` and `height`."""
    for size in TITLE_SIZES:
        font = _font(BOLD, size)
        line_height = int(size * 1.18)
        lines = _wrap(title, font, width)
        if len(lines) * line_height <= height:
            return Block(lines, size, line_height)
    size = TITLE_SIZES[-1]
    font = _font(BOLD, size)
    line_height = int(size * 1.18)
    lines = _wrap(title, font, width)
    keep = max(1, height // line_height)
    shown = lines[:keep]
    shown[-1] = _ellipsized(" ".join(lines[keep - 1 :]), font, width)
    return Block(shown, size, line_height)


def _rgb(hex7: str) -> RGB:
    return (int(hex7[1:3], 16), int(hex7[3:5], 16), int(hex7[5:7], 16))


def _mix(a: RGB, b: RGB, share: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * share),
        round(a[1] + (b[1] - a[1]) * share),
        round(a[2] + (b[2] - a[2]) * share),
    )


def _picture(data: bytes) -> Image.Image | None:
    """Our own stored variant, decoded within a pixel budget; None if it will not decode."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PICTURE_PIXELS:
                return None
            return ImageOps.fit(image.convert("RGB"), (PICTURE_WIDTH, HEIGHT))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _pattern(draw: ImageDraw.ImageDraw, background: RGB, ink: RGB) -> None:
    """Rings on the right, in a shade between the background and the ink: a card without a
    photo does not look empty."""
    shade = _mix(background, ink, 0.14)
    for i, radius in enumerate((250, 180, 110)):
        cx, cy = WIDTH - 40, HEIGHT // 2 + (i - 1) * 24
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=shade, width=26)


def render(
    card: Card, picture: bytes | None = None, *, chunks: dict[str, str] | None = None
) -> bytes:
    """The card as a PNG of WIDTH × HEIGHT, with `chunks` as its text chunks."""
    background, ink = _rgb(card.background), _rgb(card.ink)
    canvas = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(canvas)
    photo = _picture(picture) if picture else None
    right = WIDTH - PAD
    if photo is not None:
        canvas.paste(photo, (WIDTH - PICTURE_WIDTH, 0))
        right = WIDTH - PICTURE_WIDTH - PAD
    else:
        _pattern(draw, background, ink)
        right = WIDTH - 340
    width = right - PAD
    soft = _mix(ink, background, 0.2)
    eyebrow = _font(BOLD, EYEBROW_SIZE)
    draw.text(
        (PAD, PAD),
        _ellipsized(drawable_text(card.eyebrow), eyebrow, width),
        font=eyebrow,
        fill=soft,
    )
    call_font = _font(BOLD, CALL_SIZE)
    call = _ellipsized(drawable_text(card.call), call_font, width - 56)
    call_top = HEIGHT - PAD - 64
    top = PAD + EYEBROW_SIZE + 36
    line_font = _font(REGULAR, LINE_SIZE)
    line = _ellipsized(drawable_text(card.line, REGULAR), line_font, width)
    title_room = call_top - 40 - (LINE_SIZE + 24 if line else 0) - top
    block = fit_title(drawable_text(card.title) or drawable_text(card.line), width, title_room)
    y = top
    title_font = _font(BOLD, block.size)
    for text in block.lines:
        draw.text((PAD, y), text, font=title_font, fill=ink)
        y += block.line_height
    if line:
        draw.text((PAD, y + 16), line, font=line_font, fill=soft)
    if call:
        pill = int(_width(call, call_font)) + 56
        draw.rounded_rectangle((PAD, call_top, PAD + pill, call_top + 64), radius=32, fill=ink)
        draw.text((PAD + 28, call_top + 32), call, font=call_font, fill=background, anchor="lm")
    info = PngImagePlugin.PngInfo()
    for key, value in (chunks or {}).items():
        info.add_text(key, value)
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True, pnginfo=info)
    return out.getvalue()
