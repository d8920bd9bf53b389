"""Placeholder art for an idea without a picture: an inline SVG drawn in the brand's colours.

Everything about it follows from the idea's id and title (the same idea always gets the same
picture, on every page and every server): the pattern, its angle, which end of the brand's
gradient comes first, and the initials in the middle. The colours are not in the SVG: its
classes take the page's tokens (static/app.css, `.art`), so the brand's theme and the dark
scheme colour it like the rest of the page, with no inline style (the CSP forbids them).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from markupsafe import Markup

PATTERNS = ("dots", "stripes", "rings", "grid")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Art:
    key: str  # unique on the page: the SVG's gradient and pattern ids
    pattern: str  # one of PATTERNS
    angle: int  # of the gradient and the pattern, in degrees
    flipped: bool  # the gradient from the second brand colour to the first
    initials: str  # one or two letters, upper case ("" when the title has no letter)
    circle_x: int  # a large soft circle, somewhere in the 400 × 300 picture
    circle_y: int


def initials(title: str) -> str:
    words = _WORD.findall(title or "")
    return "".join(w[0] for w in words[:2]).upper()


def idea_art(idea_id: int, title: str, suffix: str = "") -> Art:
    """The placeholder of one idea; `suffix` tells apart two pictures of it on one page."""
    digest = hashlib.sha256(f"{idea_id}:{title}".encode()).digest()
    return Art(
        key=f"art-{idea_id}{suffix}",
        pattern=PATTERNS[digest[0] % len(PATTERNS)],
        angle=(digest[1] % 12) * 15,
        flipped=bool(digest[2] % 2),
        initials=initials(title),
        circle_x=40 + digest[3] % 320,
        circle_y=30 + digest[4] % 240,
    )


_PATTERN_SHAPES = {
    "dots": '<circle class="shape" cx="16" cy="16" r="4"/>',
    "stripes": '<rect class="shape" width="10" height="32"/>',
    "rings": '<circle class="line" cx="16" cy="16" r="9"/>',
    "grid": '<path class="line" d="M0 0H32M0 0V32"/>',
}


def idea_picture(
    idea_id: int, title: str, src: str | None = None, suffix: str = "", lazy: bool = True
) -> Markup:
    """An idea's picture for a template: its photo when it has one (`src`), else its
    placeholder art; both named by the title, both filling their box (static/app.css).
    Written in Python, not a macro: the ballot shows it for up to thousands of ideas."""
    if src:
        loading = ' loading="lazy"' if lazy else ""
        return Markup('<img class="thumb" src="{}" alt="{}"{}>').format(src, title, Markup(loading))
    a = idea_art(idea_id, title, suffix)
    first, last = ("b", "a") if a.flipped else ("a", "b")
    text = (
        Markup(
            '<text class="initials" x="200" y="150" text-anchor="middle"'
            ' dominant-baseline="central">{}</text>'
        ).format(a.initials)
        if a.initials
        else Markup("")
    )
    return Markup(
        '<svg class="art art-{pattern}" viewBox="0 0 400 300" preserveAspectRatio="xMidYMid slice"'
        ' role="img" aria-label="{title}" focusable="false"><defs>'
        '<linearGradient id="{key}-g" gradientTransform="rotate({angle} .5 .5)">'
        '<stop offset="0" class="{first}"/><stop offset="1" class="{last}"/></linearGradient>'
        '<pattern id="{key}-p" width="32" height="32" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate({angle})">{shape}</pattern></defs>'
        '<rect width="400" height="300" fill="url(#{key}-g)"/>'
        '<rect width="400" height="300" fill="url(#{key}-p)"/>'
        '<circle class="glow" cx="{cx}" cy="{cy}" r="120"/>{text}</svg>'
    ).format(
        pattern=a.pattern,
        title=title,
        key=a.key,
        angle=a.angle,
        first=first,
        last=last,
        shape=Markup(_PATTERN_SHAPES[a.pattern]),
        cx=a.circle_x,
        cy=a.circle_y,
        text=text,
    )
