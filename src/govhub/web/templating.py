"""The Jinja2 environment shared by every context's pages, with i18n and helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from govhub.config import get_settings
from govhub.kit import i18n
from govhub.kit.clock import format_datetime, format_day
from govhub.kit.crypto import mask_identifier
from govhub.kit.csrf import CSRF_FIELD, csrf_token

PACKAGE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _template_dirs() -> list[Path]:
    """web/templates plus each context's templates/ folder."""
    dirs = [Path(__file__).resolve().parent / "templates"]
    dirs += sorted(p for p in PACKAGE_DIR.glob("*/templates") if p.parent.name != "web")
    return dirs


def _switch_language_url(request: Request, locale: str) -> str:
    """The current page's URL with ?lang= set, so switching keeps the visitor in place."""
    params = dict(request.query_params)
    params["lang"] = locale
    # Query-only relative URL: keeps the current path, and a crafted path such as
    # '//evil.example' can never turn the link into one to another site.
    return f"?{urlencode(params)}"


def format_baht(satang: int) -> str:
    """Integer satang as baht with two decimals and thousands separators: 200000 -> '2,000.00'."""
    baht, rest = divmod(int(satang), 100)
    return f"{baht:,}.{rest:02d}"


def local_text(pair: Any) -> str:
    """The Thai or English side of a {th, en} text, in the page's language."""
    return str(pair.th if i18n.current_locale.get() == "th" else pair.en)


def _build_environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in _template_dirs()]),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # New-style gettext: Jinja fills %(name)s itself, after escaping, so the callables
    # must hand back the bare translation.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.raw_gettext,
        i18n.raw_ngettext,
        newstyle=True,
        pgettext=i18n.raw_pgettext,
        npgettext=i18n.raw_npgettext,
    )
    env.filters["datetime"] = lambda value, with_time=True: format_datetime(
        value, i18n.current_locale.get(), with_time=with_time
    )
    env.filters["day"] = lambda value: format_day(value, i18n.current_locale.get())
    env.filters["mask"] = mask_identifier
    env.filters["baht"] = format_baht
    env.filters["local"] = local_text
    env.globals["csrf_field_name"] = CSRF_FIELD
    env.globals["password_min_length"] = get_settings().password_min_length
    return env


templates_env = _build_environment()


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page or an HTMX fragment with the request-wide helpers in scope."""
    locale = getattr(request.state, "locale", i18n.DEFAULT_LOCALE)
    values: dict[str, Any] = {
        "request": request,
        "locale": locale,
        "other_locale": "en" if locale == "th" else "th",
        "csrf_token": csrf_token(request),
        "caller": getattr(request.state, "caller_view", None),
        "switch_language_url": lambda loc: _switch_language_url(request, loc),
        "is_htmx": request.headers.get("hx-request") == "true",
    }
    values.update(context or {})
    html = templates_env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)
