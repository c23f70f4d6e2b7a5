"""Small readers of raw ASGI scopes, for the pure-ASGI middleware."""

from __future__ import annotations

import re
from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def scope_header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (name in lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def scope_cookie(scope: Scope, name: str) -> str | None:
    """A cookie's value from the request, or None (also for a malformed Cookie header)."""
    header = scope_header(scope, b"cookie")
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    return jar[name].value if name in jar else None


def attachment_disposition(filename: str) -> str:
    """Content-Disposition for a download: an ASCII fallback name and the exact UTF-8 one (RFC 6266)."""
    fallback = "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class BodyTooLarge(Exception):
    """The request body passed the configured limit while it was being read."""


class BodySizeLimitMiddleware:
    """Refuse request bodies over the limit with 413, before anything parses them.

    Checks Content-Length up front and also counts streamed bytes, since chunked requests
    carry no length. Without this a few concurrent large posts could exhaust memory.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, upload_paths: re.Pattern[str] | None = None, upload_max_bytes: int = 0,
        path_limits: tuple[tuple[re.Pattern[str], int], ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Routes that take files get a larger limit; everything else keeps the small one.
        self.upload_paths = upload_paths
        self.upload_max_bytes = upload_max_bytes
        # Routes with a limit of their own (open-data resource files are larger than forms' files).
        self.path_limits = path_limits

    def _limit(self, scope: Scope) -> int:
        path = scope.get("path", "")
        for pattern, limit in self.path_limits:
            if pattern.match(path):
                return max(self.max_bytes, limit)
        if self.upload_paths is not None and self.upload_paths.match(path):
            return max(self.max_bytes, self.upload_max_bytes)
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self._limit(scope)
        declared = scope_header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            await _send_413(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_413(send)


async def _send_413(send: Send) -> None:
    body = b'{"error": {"code": "request_too_large", "message": "The request is too large."}}'
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
