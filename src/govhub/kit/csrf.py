"""Signed double-submit CSRF protection for every form and cookie-authenticated write."""

from __future__ import annotations

import hashlib
import hmac
from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govhub.config import get_settings
from govhub.kit.crypto import new_token
from govhub.kit.errors import CsrfFailed
from govhub.kit.http import scope_cookie

CSRF_COOKIE = "govhub_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
JSON_MEDIA_TYPE = "application/json"
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


def _cookie_value(scope: Scope) -> str | None:
    return scope_cookie(scope, CSRF_COOKIE)


class CsrfCookieMiddleware:
    """Give every browser a random CSRF cookie (the secret half of the double submit)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = _cookie_value(scope)
        fresh = value is None
        if fresh:
            value = new_token(24)
        scope.setdefault("state", {})["csrf_cookie"] = value

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                current = scope["state"].get("csrf_cookie")
                if fresh or current != value:
                    secure = "; Secure" if get_settings().https else ""
                    headers = MutableHeaders(scope=message)
                    headers.append(
                        "set-cookie",
                        f"{CSRF_COOKIE}={current}; Path=/; HttpOnly; SameSite=Lax{secure}",
                    )
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def rotate_csrf_cookie(request: Request) -> None:
    """Issue a new CSRF secret (on sign-in and sign-out, with the session)."""
    request.state.csrf_cookie = new_token(24)


def csrf_token(request: Request) -> str:
    """The token to put in forms: an HMAC of this browser's CSRF cookie."""
    secret = get_settings().secret_key.get_secret_value().encode()
    cookie = getattr(request.state, "csrf_cookie", "") or ""
    return hmac.new(secret, cookie.encode(), hashlib.sha256).hexdigest()


def media_type(request: Request) -> str:
    """The request's media type, lower-cased and without parameters ('Text/Plain; x' -> 'text/plain')."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def needs_csrf_check(request: Request, *, has_session_cookie: bool) -> bool:
    """Unsafe requests need the token unless they are cookie-less JSON (API clients' own calls).

    Browsers can send forms and text cross-site without a preflight; JSON they cannot.
    """
    if request.method in SAFE_METHODS:
        return False
    return has_session_cookie or media_type(request) != JSON_MEDIA_TYPE


async def verify_csrf(request: Request) -> None:
    """Dependency: refuse unsafe requests whose form field or header lacks the right token."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        if media_type(request) in FORM_CONTENT_TYPES[:2]:
            form = await request.form()
            field = form.get(CSRF_FIELD)
            sent = field if isinstance(field, str) else None
    # The cookie must have come with the request: a freshly minted one proves nothing.
    if not sent or _cookie_value(request.scope) is None:
        raise CsrfFailed()
    if not hmac.compare_digest(sent, csrf_token(request)):
        raise CsrfFailed()
