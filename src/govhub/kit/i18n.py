"""Thai-first, English-second translations from Babel catalogs, chosen per request."""

from __future__ import annotations

import io
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

SUPPORTED_LOCALES = ("th", "en")
DEFAULT_LOCALE = "th"
LOCALE_COOKIE = "govhub_lang"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet (translated when shown)."""
    return message


@lru_cache(maxsize=len(SUPPORTED_LOCALES))
def translations_for(locale: str) -> NullTranslations:
    """Load a locale's catalog straight from its .po file, compiled in memory once."""
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    # Fuzzy entries are drafts a translator has not confirmed: never show them.
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(message: str, **params: object) -> str:
    """Translate message into the current request's locale and fill %(name)s parameters."""
    text = translations_for(current_locale.get()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, count: int, **params: object) -> str:
    """Plural-aware translation for the current locale."""
    text = translations_for(current_locale.get()).ngettext(singular, plural, count)
    return text % {"num": count, **params}


def raw_gettext(message: str) -> str:
    """Translate without filling parameters (Jinja's new-style gettext fills them itself)."""
    return translations_for(current_locale.get()).gettext(message)


def raw_ngettext(singular: str, plural: str, count: int) -> str:
    """Plural translation without filling parameters (for Jinja)."""
    return translations_for(current_locale.get()).ngettext(singular, plural, count)


def raw_pgettext(context: str, message: str) -> str:
    """Translate a message that needs a context to disambiguate it (e.g. 'On' as a status)."""
    return translations_for(current_locale.get()).pgettext(context, message)


def raw_npgettext(context: str, singular: str, plural: str, count: int) -> str:
    """Plural translation with a context."""
    return translations_for(current_locale.get()).npgettext(context, singular, plural, count)


def negotiate_locale(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """Pick the locale: explicit ?lang=, then the saved cookie, then the browser, then Thai."""
    for candidate in (query, cookie):
        if candidate in SUPPORTED_LOCALES:
            return candidate  # type: ignore[return-value]
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in SUPPORTED_LOCALES:
            return tag
    return DEFAULT_LOCALE
