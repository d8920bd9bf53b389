"""Where uploaded files live: one small interface, a local-disk implementation today.

Keys are relative names chosen by the platform (`ideas/<random>/large.jpg`), never by the
uploader, so they are safe to put in a URL; `LocalStorage` still refuses any key that could
leave its folder. An S3-compatible store only has to implement the same four methods and
return public (or signed) URLs from `url`; `make_storage` is the one place that picks.
"""

from __future__ import annotations

import enum
import mimetypes
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from cocreate.security.access import PUBLIC, route
from cocreate.settings import Settings

MEDIA_PREFIX = "/media/"
# Lower-case letters, digits, "-", "_" and "." inside path segments separated by "/".
_SAFE_KEY = re.compile(r"[a-z0-9_-][a-z0-9_.-]{0,99}(/[a-z0-9_-][a-z0-9_.-]{0,99}){0,5}")
CONTENT_TYPES = {".webp": "image/webp", ".jpg": "image/jpeg", ".png": "image/png"}
# Stored files never change under a key (a new upload gets a new key): cache them for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
# Files of something the public may not see (a pending idea, a draft campaign's cover): the
# browser of whoever may see it keeps them, revalidating each time; no shared cache does.
PRIVATE = "private, no-cache"


class Audience(enum.Enum):
    """Who may fetch a stored file, as its owner (an idea, a campaign) decides."""

    PUBLIC = "public"  # anyone, cached for a year
    PRIVATE = "private"  # this request's user may, and only they: `Cache-Control: private`
    NOBODY = "nobody"  # 404, as for a file that does not exist


# The first segment of a key (its folder: "ideas", "covers") -> who may fetch a file under
# `<folder>/<name>/`: the rule gets the request and `<folder>/<name>` (the image key).
MediaRule = Callable[[Request, str], Audience]


class InvalidKey(ValueError):
    pass


def check_key(key: str) -> str:
    if not _SAFE_KEY.fullmatch(key) or ".." in key:
        raise InvalidKey(key)
    return key


class Storage(Protocol):
    def save(self, key: str, data: bytes, content_type: str) -> None: ...

    def open(self, key: str) -> bytes: ...

    def url(self, key: str) -> str: ...

    def delete(self, key: str) -> None: ...


class LocalStorage:
    """Files in a folder, served by the app at `/media/<key>`."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidKey(key)
        return path

    def save(self, key: str, data: bytes, content_type: str) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half a file, a crash leaves no torn file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def open(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def url(self, key: str) -> str:
        return MEDIA_PREFIX + check_key(key)

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        # Leave no empty folders behind (every image has a folder of its own).
        for parent in path.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:  # not empty, or already gone
                break


def make_storage(settings: Settings) -> Storage:
    return LocalStorage(settings.data_dir / "media")


def media_audience(request: Request, key: str) -> Audience:
    """Who may fetch the stored file `key`, asked of the rule of its folder; a folder without
    a rule, or a key outside any `<folder>/<name>/` (no owner to ask), is nobody's."""
    rules: Mapping[str, MediaRule] = request.app.state.media_rules
    parts = key.split("/")
    rule = rules.get(parts[0])
    if rule is None or len(parts) < 3:
        return Audience.NOBODY
    return rule(request, "/".join(parts[:2]))


def serve_media(request: Request) -> Response:
    """A stored file from local disk (behind a CDN or an object store, this route is unused).

    Public files are cached for a year; files of things only some people may see (a pending
    or rejected idea's image, a draft campaign's cover) go to those people only, marked
    private; everyone else gets 404, as for a file that does not exist.
    """
    storage = request.app.state.storage
    if not isinstance(storage, LocalStorage):
        raise HTTPException(404)
    key = request.path_params["key"]
    try:
        path = storage.path(key)
    except InvalidKey:
        raise HTTPException(404) from None
    if not path.is_file():
        raise HTTPException(404)
    audience = media_audience(request, key)
    if audience is Audience.NOBODY:
        raise HTTPException(404)
    cache = IMMUTABLE if audience is Audience.PUBLIC else PRIVATE
    content_type = CONTENT_TYPES.get(path.suffix) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    return FileResponse(path, media_type=content_type, headers={"Cache-Control": cache})


routes = [route("/media/{key:path}", serve_media, access=PUBLIC)]
