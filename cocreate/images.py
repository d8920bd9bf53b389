"""Uploaded images: checked by decoding, never trusted, re-encoded without metadata.

Nothing the uploader sent is kept: not the bytes, not the name, not the declared type, not the
EXIF (which can hold a home's GPS position). Only JPEG, PNG and WebP decoders are ever tried.

Decoding is where an upload costs memory: a 100 KB PNG can declare 6000 × 6000 pixels and
take 540 MB to decode and copy. So, in this order and before any pixel is decoded:

- callers decode only a form that is otherwise valid, and count the upload against the
  account's hourly limit (`process_upload`);
- the header's size is checked against a pixel budget (`MAX_DECODE_PIXELS`) for what will
  really be held in memory: a JPEG is decoded by libjpeg at 1/2, 1/4 or 1/8 scale (`draft`)
  when that still covers our largest variant, so a 48-megapixel phone photo holds 3
  megapixels; a PNG or WebP is always decoded whole (Pillow's `reduce` works on the decoded
  image and saves nothing), so its header is what the budget limits;
- at most `slots` decodes run at once in the process (`DecodeGate`); past a short wait the
  upload is refused with `ImagesBusy` (the caller answers 503 with Retry-After).

Each full-size buffer is closed as soon as the image has been shrunk to the largest variant;
rotation, flattening and encoding then work on at most 1200 × 1200 pixels.
"""

from __future__ import annotations

import io
import math
import secrets
from contextlib import AbstractContextManager
from dataclasses import dataclass

from PIL import Image, PngImagePlugin, UnidentifiedImageError
from starlette.datastructures import UploadFile

from cocreate.concurrency import Slots
from cocreate.forms import Form
from cocreate.i18n import gettext as _
from cocreate.security.ratelimit import Limit, RateLimiter
from cocreate.storage import Storage

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# Pixels decoded into memory for one upload: 4096 × 3072, 12.6 megapixels, about 50 MB as
# RGBA and at most about 110 MB while a transparent PNG is converted and shrunk. Enough for a
# 12-megapixel phone photo saved as PNG or WebP (4032 × 3024) and for a 4K or 5K screenshot
# that is not larger; a JPEG (what phones take) counts its scaled-down size, see `draft`.
MAX_DECODE_PIXELS = 4096 * 3072
# What a JPEG header may declare: 64 megapixels covers the 48- and 50-megapixel modes of
# phones (8160 × 6120 decodes at 1/4 scale: 2040 × 1530). A progressive JPEG keeps its whole
# coefficient array in memory whatever the scale, so its header counts against
# MAX_DECODE_PIXELS instead.
MAX_HEADER_PIXELS = 64_000_000
# Pillow refuses anything past twice this many pixels with DecompressionBombError while
# opening, before decoding; between once and twice it warns and our own checks refuse.
# Set process-wide: no feature needs more.
Image.MAX_IMAGE_PIXELS = MAX_HEADER_PIXELS
# PNG text chunks are decompressed while opening (up to 64 MB in all by default); we keep no
# text, so one chunk's worth (1 MB) is plenty. Past it, Pillow raises ValueError: refused.
PngImagePlugin.MAX_TEXT_MEMORY = PngImagePlugin.MAX_TEXT_CHUNK

# Variant name -> (longest side in px, format). The large one is JPEG because every link
# preview (Open Graph) reader takes JPEG; the thumbnail is WebP, smaller for the gallery.
VARIANTS = {"large": (1200, "JPEG"), "thumb": (400, "WEBP")}
LARGEST = max(side for side, _fmt in VARIANTS.values())
EXTENSIONS = {"JPEG": "jpg", "WEBP": "webp"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "WEBP": "image/webp"}
# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose).
ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
EXIF_ORIENTATION = 0x0112
# Uploads counted per account in the rate limiter (the rule comes from the settings).
UPLOADS = "uploads"
# What a busy answer tells the browser: decodes take well under a second each.
BUSY_RETRY_AFTER_SECONDS = 5


class ImageRejected(Exception):
    """An upload we will not keep; the message is for the uploader, in their language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ImagesBusy(Exception):
    """Every decoding slot stayed taken for the whole wait: nothing was decoded. The caller
    answers 503 with `Retry-After: retry_after` (the form page, with `message` by the file)."""

    def __init__(self, retry_after: int = BUSY_RETRY_AFTER_SECONDS) -> None:
        self.message = _("Many images are being processed right now. Please try again in a moment.")
        super().__init__(self.message)
        self.retry_after = retry_after


class DecodeGate(Slots):
    """At most `slots` image decodes at once in this process; a caller waits at most
    `wait_seconds` for a slot, then gets ImagesBusy. Blocking: call it from a request
    thread that holds no pooled connection (a thread that holds one is refused)."""

    def __init__(self, slots: int, wait_seconds: float) -> None:
        if slots < 1:
            raise ValueError("a decode gate needs at least one slot")
        super().__init__("image decoding", slots, wait_seconds, busy=ImagesBusy)

    def slot(self) -> AbstractContextManager[None]:
        return self()


@dataclass(frozen=True)
class UploadPolicy:
    """What every upload of the app goes through: the account's hourly limit (a `limits`
    rule such as "30/hour") and the process's decode gate."""

    gate: DecodeGate
    limiter: RateLimiter
    rate_limit: str


@dataclass(frozen=True)
class ProcessedImage:
    variants: dict[str, bytes]  # variant name -> encoded bytes


@dataclass(frozen=True)
class Upload:
    data: bytes | None = None  # None: no file was chosen (or `error` says why not)
    error: str | None = None


def too_large_message() -> str:
    return _("The image is larger than %(mb)d MB. Choose a smaller file.") % {
        "mb": MAX_UPLOAD_BYTES // (1024 * 1024)
    }


def choose_again_message() -> str:
    # A file input cannot be refilled: say so next to it rather than lose the file silently.
    return _("Please choose the image again.")


def read_upload(form: Form, name: str) -> Upload:
    """The uploaded file's bytes (at most the limit plus one, to tell it is too large)."""
    value = form.data.get(name)
    if not isinstance(value, UploadFile):
        return Upload()
    data = value.file.read(MAX_UPLOAD_BYTES + 1)
    if not data and not value.filename:
        return Upload()  # the browser sends an empty part when no file was chosen
    if len(data) > MAX_UPLOAD_BYTES:
        return Upload(error=too_large_message())
    if not data:
        return Upload(error=_("This file is empty."))
    return Upload(data=data)


def process_upload(data: bytes, *, account_id: int, policy: UploadPolicy) -> ProcessedImage:
    """An upload of a form that is otherwise valid: counted against the account's hourly
    limit, then decoded in one of the process's slots. Raises ImageRejected (over the limit,
    or not an image we take) or ImagesBusy. Blocking: call it from a worker thread."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejected(too_large_message())
    if not policy.limiter.hit(Limit(UPLOADS, policy.rate_limit), f"account:{account_id}"):
        raise ImageRejected(_("You have sent many images in a short time. Please try again later."))
    return process_image(data, gate=policy.gate)


def process_image(data: bytes, *, gate: DecodeGate | None = None) -> ProcessedImage:
    """Decode, check, orient, strip and re-encode an image; raises ImageRejected, or
    ImagesBusy when `gate` has no free slot in time (no gate: scripts and tests)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejected(too_large_message())
    if gate is None:
        image = decode(data)
    else:
        with gate.slot():
            image = decode(data)
    try:
        variants = {}
        for name, (side, fmt) in VARIANTS.items():
            variant = image.copy()  # at most LARGEST × LARGEST pixels
            variant.thumbnail((side, side), Image.Resampling.LANCZOS)  # never enlarges
            variants[name] = _encode(variant, fmt)
            variant.close()
    finally:
        image.close()
    return ProcessedImage(variants=variants)


def _too_many_pixels() -> ImageRejected:
    # One message whichever limit refused: Pillow's own check (past twice MAX_HEADER_PIXELS)
    # names no size, and its warning turns into a refusal only where warnings are errors.
    return ImageRejected(
        _(
            "The image has too many pixels. The most we take is %(most)d megapixels, or "
            "%(jpeg)d megapixels for a JPEG photo."
        )
        % {"most": MAX_DECODE_PIXELS // 1_000_000, "jpeg": MAX_HEADER_PIXELS // 1_000_000}
    )


def _draft_box(width: int, height: int) -> tuple[int, int]:
    """The smallest size, in the image's proportions, whose longest side is LARGEST."""
    longest = max(width, height)
    return (
        max(1, math.ceil(width * LARGEST / longest)),
        max(1, math.ceil(height * LARGEST / longest)),
    )


def decode(data: bytes) -> Image.Image:
    """The image upright, in RGB on white, with its longest side at most LARGEST; raises
    ImageRejected before decoding a pixel when the decode would pass the pixel budget."""
    not_an_image = _("This file is not a JPEG, PNG or WebP image.")
    try:
        opened = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise ImageRejected(not_an_image) from None
    try:
        # Only the header has been read: refuse before decoding a pixel.
        width, height = opened.size
        if width < 1 or height < 1:
            raise ImageRejected(not_an_image)
        budget_pixels = width * height
        if opened.format == "JPEG":
            if budget_pixels > MAX_HEADER_PIXELS:
                raise _too_many_pixels()
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers our largest
            # variant: a 12-megapixel photo then costs a quarter of the time and memory.
            opened.draft("RGB", _draft_box(width, height))
            if not opened.info.get("progressive"):
                budget_pixels = opened.size[0] * opened.size[1]
        if budget_pixels > MAX_DECODE_PIXELS:
            raise _too_many_pixels()
        opened.load()
        # After load: a PNG's EXIF chunk may follow its pixels (Pillow would load to find it).
        orientation = opened.getexif().get(EXIF_ORIENTATION, 1)
        image = _shrink(opened)
    except ImageRejected:
        raise
    except (OSError, ValueError, SyntaxError, EOFError):
        # A truncated or corrupt image.
        raise ImageRejected(not_an_image) from None
    finally:
        opened.close()  # frees the full-size pixels now, not when the collector gets to them
    transpose = ORIENTATIONS.get(orientation) if isinstance(orientation, int) else None
    if transpose is not None:
        upright = image.transpose(transpose)
        image.close()
        image = upright
    return image


def _shrink(opened: Image.Image) -> Image.Image:
    """A new RGB image (on white where transparent), at most LARGEST on its longest side.

    Work at full size is kept to one conversion: RGB and grey images shrink as they are;
    others are converted once (to RGBA when transparent, else RGB) and then shrunk; the
    flattening on white happens on the small image.
    """
    size = (LARGEST, LARGEST)
    transparent = opened.mode in ("RGBA", "LA", "PA") or (
        opened.mode == "P" and "transparency" in opened.info
    )
    if opened.mode in ("RGB", "L") or (transparent and opened.mode == "RGBA"):
        small = (
            opened.copy()
            if max(opened.size) <= LARGEST
            else opened.resize(_fit(opened.size), Image.Resampling.LANCZOS, reducing_gap=2.0)
        )
    else:
        converted = opened.convert("RGBA" if transparent else "RGB")
        try:
            converted.thumbnail(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
            small = converted.copy()
        finally:
            converted.close()
    return _flatten(small)


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    scale = LARGEST / max(width, height)
    return (max(1, round(width * scale)), max(1, round(height * scale)))


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: JPEG has no alpha. Works on the small image and closes it."""
    if image.mode == "RGB":
        return image
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
    else:
        background = image.convert("RGB")
    image.close()
    return background


def _encode(image: Image.Image, fmt: str) -> bytes:
    # Encoders fall back on `info` for comments, ICC profiles, EXIF and XMP: send none.
    image.info.clear()
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    else:
        image.save(out, "WEBP", quality=80, method=4)
    return out.getvalue()


def store_image(storage: Storage, image: ProcessedImage, *, folder: str = "ideas") -> str:
    """Save every variant under a fresh random folder; returns the image key (the folder)."""
    key = f"{folder}/{secrets.token_hex(12)}"
    for name, data in image.variants.items():
        fmt = VARIANTS[name][1]
        storage.save(f"{key}/{name}.{EXTENSIONS[fmt]}", data, CONTENT_TYPES[fmt])
    return key


def variant_key(image_key: str, name: str) -> str:
    return f"{image_key}/{name}.{EXTENSIONS[VARIANTS[name][1]]}"


def url_of(storage: Storage, image_key: str | None, variant: str) -> str | None:
    """The address of one variant of a stored image; None when there is no image."""
    return storage.url(variant_key(image_key, variant)) if image_key else None


def delete_image(storage: Storage, image_key: str) -> None:
    for name in VARIANTS:
        storage.delete(variant_key(image_key, name))
