"""A cap on the size of request bodies, so one request cannot fill memory or disk.

Neither uvicorn nor Starlette limits a whole body (Starlette caps each form field at 1 MiB
but not their number, and spools uploaded files to disk without limit). 25 MB leaves room
for a few photos in one form.

The cap is enforced where the body is read: the wrapped `receive` raises a 413
HTTPException, which reaches the app's error handler like any other and so becomes the
friendly "Too large" page in the visitor's language. A declared Content-Length over the cap
is refused before a byte is read; a chunked body is counted as it arrives.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cocreate.security.headers import request_header

MAX_BODY_BYTES = 25 * 1024 * 1024


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413)


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = request_header(scope, b"content-length") or b""
        # A length of more digits than any limit has is too large, without int() on it.
        too_large = declared.isdigit() and (
            len(declared) > len(str(self.max_bytes)) or int(declared) > self.max_bytes
        )
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if too_large:
                raise BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        await self.app(scope, limited_receive, send)
