"""Security headers and per-request language for every response."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govhub.config import get_settings
from govhub.kit.http import scope_cookie, scope_header
from govhub.kit.i18n import LOCALE_COOKIE, current_locale, negotiate_locale

# Strict by default: no inline script, no third-party origin, no framing.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI's page boots with one inline script that FastAPI writes.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """Add CSP, nosniff, referrer and framing rules, and HSTS when served over HTTPS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = get_settings().https
        csp = DOCS_CSP if scope["path"].startswith("/docs") else DEFAULT_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # A route may widen the policy (the OIDC consent form posts to a client).
                headers.setdefault("content-security-policy", csp)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("x-frame-options", "DENY")
                headers.setdefault("referrer-policy", "strict-origin-when-cross-origin")
                headers.setdefault("permissions-policy", "camera=(), microphone=(), geolocation=()")
                headers.setdefault("cross-origin-opener-policy", "same-origin")
                if https:
                    headers.setdefault(
                        "strict-transport-security", "max-age=31536000; includeSubDomains"
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LocaleMiddleware:
    """Choose th or en for the request and remember an explicit choice in a cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
        cookie = scope_cookie(scope, LOCALE_COOKIE)
        accept = scope_header(scope, b"accept-language")
        locale = negotiate_locale(query, cookie, accept)
        scope.setdefault("state", {})["locale"] = locale
        token = current_locale.set(locale)

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-language", locale)
                headers.append("vary", "Accept-Language, Cookie")
                if query in ("th", "en") and query != cookie:
                    secure = "; Secure" if get_settings().https else ""
                    headers.append(
                        "set-cookie",
                        f"{LOCALE_COOKIE}={query}; Path=/; Max-Age=31536000; SameSite=Lax{secure}",
                    )
            await send(message)

        try:
            await self.app(scope, receive, send_with_language)
        finally:
            current_locale.reset(token)
