"""Share cards are drawn at the size social networks expect, with text that fits."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from cocreate.sharing.card import (
    BOLD,
    HEIGHT,
    PAD,
    TITLE_SIZES,
    WIDTH,
    Card,
    _font,
    digest,
    drawable_text,
    fit_title,
    render,
)

CARD = Card(
    eyebrow="Crispy Co.",
    title="Smoked chipotle & lime",
    line="Pick our next flavour",
    call="See the idea and support it",
    background="#b3261e",
    ink="#ffffff",
)
BOX = (WIDTH - 340 - PAD, 300)  # the title's box on a card without a photo


def test_a_card_is_a_1200_by_630_png_in_the_brand_colour() -> None:
    image = Image.open(io.BytesIO(render(CARD)))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT) == (1200, 630)
    assert image.convert("RGB").getpixel((5, 5)) == (0xB3, 0x26, 0x1E)


def test_a_photo_fills_the_right_column() -> None:
    photo = io.BytesIO()
    Image.new("RGB", (1200, 900), (10, 200, 40)).save(photo, "JPEG")
    image = Image.open(io.BytesIO(render(CARD, photo.getvalue()))).convert("RGB")
    right = image.getpixel((WIDTH - 10, HEIGHT // 2))
    assert isinstance(right, tuple) and right[1] > 150 and right[0] < 60
    assert image.getpixel((5, 5)) == (0xB3, 0x26, 0x1E)


def test_a_picture_that_will_not_decode_is_left_out() -> None:
    image = Image.open(io.BytesIO(render(CARD, b"not an image")))
    assert image.size == (WIDTH, HEIGHT)


@pytest.mark.parametrize(
    "title",
    [
        "Crème brûlée façon grand-mère, au caramel beurre salé et à la fleur de sel de Guérande, "
        "un goût inoubliable pour tous les gourmands du dimanche après-midi en famille",
        "Supercalifragilisticexpialidocious" * 4,
        "Piment 🌶️ et citron vert 🍋 : le goût de l'été ☀️",
        "x " * 400,
    ],
)
def test_titles_of_any_length_fit_their_box(title: str) -> None:
    block = fit_title(drawable_text(title), *BOX)
    font = _font(BOLD, block.size)
    assert block.lines and len(block.lines) * block.line_height <= BOX[1]
    assert all(font.getlength(line) <= BOX[0] for line in block.lines)
    assert block.size in TITLE_SIZES


def test_a_short_title_is_set_large_and_a_long_one_smaller() -> None:
    short = fit_title("Salt", *BOX)
    long = fit_title("A very long title " * 8, *BOX)
    assert short.size == TITLE_SIZES[0] and long.size < short.size


def test_only_a_title_too_long_for_the_smallest_size_is_cut() -> None:
    assert not fit_title("Salt and vinegar", *BOX).lines[-1].endswith("…")
    assert fit_title("word " * 300, *BOX).lines[-1].endswith("…")


def test_accents_are_kept_and_emoji_the_font_lacks_are_left_out() -> None:
    assert drawable_text("Fraisé  crème 🍓 brûlée 👩‍🍳 ") == "Fraisé crème brûlée"
    assert drawable_text("Ça c'est « l'été » — 100 %") == "Ça c'est « l'été » — 100 %"


def test_the_digest_changes_with_what_the_card_shows() -> None:
    same = Card(**{**CARD.__dict__})
    assert digest(same) == digest(CARD)
    for change in ({"title": "Salt"}, {"background": "#000000"}, {"picture_key": "ideas/x"}):
        assert digest(Card(**{**CARD.__dict__, **change})) != digest(CARD)
