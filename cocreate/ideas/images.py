"""Uploaded images: checked by decoding, never trusted, re-encoded without metadata.

Nothing the uploader sent is kept: not the bytes, not the name, not the declared type, not the
EXIF (which can hold a home's GPS position). Pillow reads the header first, so dimensions are
refused before any pixel is decoded; only JPEG, PNG and WebP decoders are ever tried.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlmodel import Session
from starlette.datastructures import UploadFile

from cocreate.concurrency import Slots
from cocreate.db import release
from cocreate.forms import Form
from cocreate.i18n import gettext as _
from cocreate.storage import Storage

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SIDE = 6000
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# Pillow refuses anything past twice this many pixels with DecompressionBombError while
# opening, before decoding. Between once and twice it only warns: such an image has a side
# over MAX_SIDE, so the size check below refuses it. Set process-wide: no feature needs more.
Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE

# Decoding takes a fraction of a second of one core and tens of megabytes: a few at a time.
DECODING = Slots("image decoding", size=2)

# Variant name -> (longest side in px, format). The large one is JPEG because every link
# preview (Open Graph) reader takes JPEG; the thumbnail is WebP, smaller for the gallery.
VARIANTS = {"large": (1200, "JPEG"), "thumb": (400, "WEBP")}
EXTENSIONS = {"JPEG": "jpg", "WEBP": "webp"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "WEBP": "image/webp"}


class ImageRejected(Exception):
    """An upload we will not keep; the message is for the uploader, in their language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


def process_image(data: bytes, *, session: Session | None = None) -> ProcessedImage:
    """Decode, check, orient, strip and re-encode an upload; raises ImageRejected, or Busy
    when no decoding slot frees up in time. `session`: the caller's, whose transaction is
    ended first (nothing may be pending), so that no pooled connection waits for the work."""
    if session is not None:
        release(session)
    with DECODING():
        return _process(data)


def _process(data: bytes) -> ProcessedImage:
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejected(too_large_message())
    not_an_image = _("This file is not a JPEG, PNG or WebP image.")
    try:
        opened = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
        # Only the header has been read: refuse huge images before decoding a pixel.
        width, height = opened.size
        if width > MAX_SIDE or height > MAX_SIDE:
            raise ImageRejected(
                _("The image is %(w)d × %(h)d pixels; the most we take is %(max)d × %(max)d.")
                % {"w": width, "h": height, "max": MAX_SIDE}
            )
        if width < 1 or height < 1:
            raise ImageRejected(not_an_image)
        if opened.format == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers our largest
            # variant: a 12-megapixel photo then costs a quarter of the time and memory.
            largest = max(side for side, _fmt in VARIANTS.values())
            opened.draft("RGB", (largest, largest))
        opened.load()
        # Apply the camera's rotation; the copies below carry no EXIF or other metadata.
        image = _flatten(ImageOps.exif_transpose(opened))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            _("The image has too many pixels; the most we take is %(max)d × %(max)d.")
            % {"max": MAX_SIDE}
        ) from None
    except ImageRejected:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        # Not an image at all, a truncated or corrupt one, or a format we do not take.
        raise ImageRejected(not_an_image) from None

    variants = {}
    for name, (side, fmt) in VARIANTS.items():
        variant = image.copy()
        variant.thumbnail((side, side), Image.Resampling.LANCZOS)  # never enlarges
        variants[name] = _encode(variant, fmt)
    return ProcessedImage(variants=variants)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: JPEG has no alpha, and palette or 16-bit modes do not encode well."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


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


def delete_image(storage: Storage, image_key: str) -> None:
    for name in VARIANTS:
        storage.delete(variant_key(image_key, name))
