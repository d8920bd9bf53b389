"""Uploads are decoded, checked and re-encoded; anything else is refused with a clear message."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from PIL import Image, ImageFile

from cocreate import images as images_module
from cocreate.i18n import using_locale
from cocreate.images import (
    MAX_UPLOAD_BYTES,
    DecodeGate,
    ImageRejected,
    ImagesBusy,
    UploadPolicy,
    decode,
    process_image,
    process_upload,
)
from cocreate.security.ratelimit import RateLimiter
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


TOO_MANY_PIXELS = (
    "The image has too many pixels. The most we take is 12 megapixels, "
    "or 64 megapixels for a JPEG photo."
)


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    # 10000 x 10000 black-and-white pixels compress to about 12 KB of PNG.
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")
    bomb = out.getvalue()
    assert len(bomb) < 100_000
    started = time.perf_counter()
    message = _refusal(bomb)
    assert time.perf_counter() - started < 0.5, "must be refused before decoding"
    assert message == TOO_MANY_PIXELS


def test_a_png_over_the_pixel_budget_is_never_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 6000 x 6000 PNG (100 KB) that cost 540 MB: refused from its header alone."""
    bomb = png_bytes((6000, 6000))
    assert len(bomb) < 200_000
    loads = _count_loads(monkeypatch)
    assert _refusal(bomb) == TOO_MANY_PIXELS
    assert loads == []
    # Just inside the budget is decoded (a 12-megapixel phone photo saved as PNG).
    assert process_image(png_bytes((4032, 3024))).variants["large"]
    assert loads == [(4032, 3024)]


def test_a_big_jpeg_is_decoded_scaled_down_by_libjpeg() -> None:
    """A 48-megapixel phone photo holds 3 megapixels while decoding; a progressive JPEG
    (whose coefficients libjpeg keeps whole) counts its full size, so the same is refused."""
    decoded = decode(jpeg_bytes((8064, 6048)))
    assert decoded.size == (1200, 900)
    with pytest.raises(ImageRejected):
        decode(jpeg_bytes((8064, 6048), progressive=True))
    # A JPEG header past 64 megapixels is refused however small its scaled decode would be.
    assert _refusal(jpeg_bytes((9000, 8000))) == TOO_MANY_PIXELS


def test_draft_decodes_a_phone_photo_at_half_size(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = _count_loads(monkeypatch)
    processed = process_image(jpeg_bytes((4000, 3000)))
    assert loads == [(2000, 1500)]  # 1/2 scale still covers 1200 px; 1/4 would not
    assert _open(processed.variants["large"]).size == (1200, 900)


def test_orientation_applies_after_shrinking_a_png_with_exif() -> None:
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90° counter-clockwise to display"
    processed = process_image(png_bytes((2400, 1200), exif=exif))
    assert _open(processed.variants["large"]).size == (600, 1200)


def test_a_full_gate_waits_its_time_then_says_busy() -> None:
    gate = DecodeGate(slots=1, wait_seconds=0.2)
    with gate.slot():  # one decode in progress
        started = time.perf_counter()
        with pytest.raises(ImagesBusy) as caught:
            process_image(png_bytes(), gate=gate)
        waited = time.perf_counter() - started
    assert 0.2 <= waited < 1.0
    assert caught.value.retry_after > 0
    assert "try again in a moment" in caught.value.message
    # Once the slot is free, the same upload goes through.
    assert process_image(png_bytes(), gate=gate).variants["thumb"]


def test_the_gate_bounds_decodes_running_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = DecodeGate(slots=2, wait_seconds=10)
    running = 0
    most = 0
    lock = threading.Lock()
    real_decode = images_module.decode

    def slow_decode(data: bytes) -> Image.Image:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        try:
            return real_decode(data)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(images_module, "decode", slow_decode)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _n: process_image(png_bytes(), gate=gate), range(6)))
    assert len(results) == 6 and most == 2


def test_uploads_over_the_accounts_hourly_limit_are_refused_undecoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = UploadPolicy(DecodeGate(1, 1.0), RateLimiter(), "2/hour")
    loads = _count_loads(monkeypatch)
    for _n in range(2):
        assert process_upload(png_bytes(), account_id=7, policy=policy).variants["large"]
    with pytest.raises(ImageRejected) as caught:
        process_upload(png_bytes(), account_id=7, policy=policy)
    assert caught.value.message == (
        "You have sent many images in a short time. Please try again later."
    )
    assert len(loads) == 2
    # Another account has its own count.
    assert process_upload(png_bytes(), account_id=8, policy=policy).variants["large"]


def _count_loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The sizes at which Pillow decodes pixels (ImageFile.load), in order."""
    loads: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def counting_load(self: ImageFile.ImageFile) -> Any:
        if self.tile:  # something left to decode
            loads.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    return loads


def test_refusals_speak_french() -> None:
    assert _refusal(b"not an image", "fr") == ("Ce fichier n’est pas une image JPEG, PNG ou WebP.")
    assert _refusal(b"x" * (MAX_UPLOAD_BYTES + 1), "fr") == (
        "L’image dépasse 10 Mo. Choisissez un fichier plus léger."
    )
