"""Uploads are decoded, checked and re-encoded; anything else is refused with a clear message."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from PIL import Image

from cocreate.i18n import using_locale
from cocreate.ideas.images import MAX_UPLOAD_BYTES, ImageRejected, process_image
from tests.ideas_fixtures import jpeg_bytes, png_bytes


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _refusal(data: bytes, locale: str = "en") -> str:
    with using_locale(locale), pytest.raises(ImageRejected) as caught:
        process_image(data)
    return caught.value.message


def test_a_photo_is_reencoded_with_a_thumbnail_and_no_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # camera maker
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPS
    photo = jpeg_bytes((3000, 2000), exif=exif, comment=b"secret comment")
    processed = process_image(photo)
    large = _open(processed.variants["large"])
    thumb = _open(processed.variants["thumb"])
    assert (large.format, large.size) == ("JPEG", (1200, 800))
    assert (thumb.format, thumb.size) == ("WEBP", (400, 267))
    for image in (large, thumb):
        assert not image.getexif(), "EXIF must be stripped"
        assert "exif" not in image.info and "comment" not in image.info
        assert b"SpyCam" not in processed.variants["large"]


def test_the_camera_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    processed = process_image(jpeg_bytes((300, 200), exif=exif))
    assert _open(processed.variants["large"]).size == (200, 300)


def test_small_images_are_not_enlarged_and_transparency_lands_on_white() -> None:
    processed = process_image(png_bytes((50, 40), mode="RGBA"))
    large = _open(processed.variants["large"])
    assert large.size == (50, 40)
    red, green, blue = large.convert("RGB").getpixel((10, 10))  # type: ignore[misc]
    assert red > 200 and green > 100 and blue > 100  # half-transparent red over white


def test_webp_and_palette_png_are_accepted() -> None:
    out = io.BytesIO()
    Image.new("RGB", (80, 80), (1, 2, 3)).save(out, "WEBP")
    assert process_image(out.getvalue()).variants["thumb"]
    assert process_image(png_bytes((30, 30), mode="P")).variants["large"]


def test_more_than_10_mb_is_refused_before_decoding() -> None:
    assert _refusal(b"\xff\xd8" + b"\0" * (20 * 1024 * 1024)) == (
        "The image is larger than 10 MB. Choose a smaller file."
    )
    assert len(b"x" * (MAX_UPLOAD_BYTES + 1)) > MAX_UPLOAD_BYTES


def test_a_png_that_is_really_a_zip_is_refused() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("image.png", png_bytes())
    assert _refusal(archive.getvalue()) == "This file is not a JPEG, PNG or WebP image."


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a" + b"\0" * 100,
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        b"%PDF-1.7\n",
        jpeg_bytes((200, 200))[:300],  # truncated
    ],
    ids=["empty", "gif", "svg", "pdf", "truncated-jpeg"],
)
def test_anything_but_a_whole_jpeg_png_or_webp_is_refused(data: bytes) -> None:
    assert _refusal(data) == "This file is not a JPEG, PNG or WebP image."


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    # 10000 x 10000 black-and-white pixels compress to about 12 KB of PNG.
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")
    bomb = out.getvalue()
    assert len(bomb) < 100_000
    started = time.perf_counter()
    message = _refusal(bomb)
    assert time.perf_counter() - started < 0.5, "must be refused before decoding"
    assert message == "The image has too many pixels; the most we take is 6000 × 6000."


def test_a_side_over_6000_pixels_is_refused() -> None:
    message = _refusal(png_bytes((6001, 10), mode="1"))
    assert message == "The image is 6001 × 10 pixels; the most we take is 6000 × 6000."


def test_refusals_speak_french() -> None:
    assert _refusal(b"not an image", "fr") == ("Ce fichier n’est pas une image JPEG, PNG ou WebP.")
    assert _refusal(b"x" * (MAX_UPLOAD_BYTES + 1), "fr") == (
        "L’image dépasse 10 Mo. Choisissez un fichier plus léger."
    )
