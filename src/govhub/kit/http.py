"""Small readers of raw ASGI scopes, for the pure-ASGI middleware."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from starlette.types import Scope


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
