"""Placeholder art: the same idea always gets the same picture, ideas get different ones,
and the SVG names the idea and takes its colours from the page's tokens."""

from __future__ import annotations

from cocreate.art import PATTERNS, idea_art, idea_picture, initials


def test_the_same_idea_always_gets_the_same_picture() -> None:
    assert idea_art(7, "Smoked chipotle") == idea_art(7, "Smoked chipotle")
    assert idea_art(7, "Smoked chipotle").key == "art-7"
    assert idea_art(7, "Smoked chipotle", suffix="-w").key == "art-7-w"


def test_ideas_get_different_pictures() -> None:
    arts = [idea_art(n, f"Idea {n}") for n in range(60)]
    assert {a.pattern for a in arts} == set(PATTERNS)
    assert len({(a.pattern, a.angle, a.flipped, a.circle_x) for a in arts}) > 50
    assert all(40 <= a.circle_x < 360 and 30 <= a.circle_y < 270 for a in arts)


def test_initials() -> None:
    assert initials("smoked chipotle crisps") == "SC"
    assert initials("Crème brûlée") == "CB"
    assert initials("Éclair") == "É"
    assert initials("🌶️ !!") == ""


def test_the_svg_names_the_idea_and_has_no_inline_style() -> None:
    svg = str(idea_picture(3, "Crème <brûlée>"))
    assert 'role="img" aria-label="Crème &lt;brûlée&gt;"' in svg
    assert 'fill="url(#art-3-g)"' in svg and 'id="art-3-p"' in svg
    assert ">CB</text>" in svg
    assert "style=" not in svg
    photo = str(idea_picture(3, "Crème", "/media/x/thumb.webp"))
    assert '<img class="thumb" src="/media/x/thumb.webp" alt="Crème" loading="lazy">' in photo
    assert "<svg" not in photo
