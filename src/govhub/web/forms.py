"""Helpers for server-rendered forms: safe redirects, client IP, and errors shown in place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.kit.errors import AppError, ValidationFailed
from govhub.web.templating import render


def safe_next(value: str | None, default: str = "/account") -> str:
    """Only same-site relative paths may be redirect targets (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def client_ip(request: Request) -> str | None:
    """The client's address as the ASGI server saw it (uvicorn applies trusted proxy headers)."""
    return request.client.host if request.client else None


def see_other(url: str) -> RedirectResponse:
    """Post/redirect/get: a 303 so that reloading never re-submits a form."""
    return RedirectResponse(url, status_code=303)


ContextBuilder = Callable[[], Awaitable[dict[str, Any]]]


async def form_error(
    request: Request,
    session: AsyncSession,
    template: str,
    error: AppError,
    context: dict[str, Any] | ContextBuilder | None = None,
) -> HTMLResponse:
    """Re-show a form with the error beside its field; undo the request's changes first.

    Pass a context that needs the database as a coroutine function: it runs after the
    rollback, which expires every loaded row.
    """
    if not error.keeps_changes:
        await session.rollback()
    if callable(context):
        context = await context()
    field = error.field if isinstance(error, ValidationFailed) else None
    values = {"error": error.translated(), "error_field": field, **(context or {})}
    return render(request, template, values, status_code=error.status_code)
