"""Share cards as answers: drawn once, kept in storage, sent with an ETag.

A card is kept under `cards/<name>.png` (one file per card and language, written whole:
`Storage.save`), with its digest in the PNG's own text chunk. When what the card shows
changes (a title, a colour, the photo), the digest no longer matches and the card is drawn
again over the old file: nothing to invalidate by hand, nothing left behind. The page's
og:image carries the digest (`?v=`), so a social network that caches by address fetches the
new picture. Drawing is CPU work: at most `DRAWING` cards are drawn at once per process, and
only after the request gave its database connection back.
"""

from __future__ import annotations

import io

from PIL import Image
from starlette.requests import Request
from starlette.responses import Response

from cocreate.concurrency import Slots
from cocreate.security.access import close_db
from cocreate.sharing.card import Card, digest, render
from cocreate.storage import Storage

DRAWING = Slots("share cards", 2, wait=5.0)
TEXT_KEY = "cocreate-card"
CACHE = "public, max-age=86400"


def card_key(name: str) -> str:
    return f"cards/{name}.png"


def versioned(path: str, card: Card) -> str:
    """The card's address with its digest: a new address whenever the picture changes."""
    return f"{path}?v={digest(card)[:16]}"


def _kept(storage: Storage, name: str, tag: str) -> bytes | None:
    try:
        data = storage.open(card_key(name))
    except (FileNotFoundError, KeyError):
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            kept_tag = getattr(image, "text", {}).get(TEXT_KEY)
    except (OSError, ValueError):
        return None
    return data if kept_tag == tag else None


def _picture(storage: Storage, key: str | None) -> bytes | None:
    if not key:
        return None
    try:
        return storage.open(key)
    except (FileNotFoundError, KeyError):
        return None  # removed meanwhile: the card is drawn without it


def draw(storage: Storage, name: str, card: Card) -> bytes:
    """The card's PNG: the kept one if it shows this card, else drawn now and kept."""
    tag = digest(card)
    data = _kept(storage, name, tag)
    if data is not None:
        return data
    picture = _picture(storage, card.picture_key)
    with DRAWING():
        data = render(card, picture, chunks={TEXT_KEY: tag})
    storage.save(card_key(name), data, "image/png")
    return data


def card_response(request: Request, storage: Storage, name: str, card: Card) -> Response:
    """The card as an image answer, or 304 when the client holds this very card. Closes the
    request's database session first: drawing may wait for a place and takes CPU time."""
    close_db(request)
    etag = f'"{digest(card)[:32]}"'
    headers = {"Cache-Control": CACHE, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(draw(storage, name, card), media_type="image/png", headers=headers)
