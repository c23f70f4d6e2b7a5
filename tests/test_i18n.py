"""Translations: the Thai catalog is complete, keeps every placeholder and follows the source.

When a test here fails after you added or changed a user-visible string, run
`make i18n-extract`, translate the new entries in src/govhub/locale/th/LC_MESSAGES/messages.po
(English needs nothing: an empty msgstr falls back to the English source) and check with
`make i18n-check`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "src" / "govhub" / "locale"
# The same keywords the Makefile passes with -k (babel.cfg repeats them for Python files).
EXTRA_KEYWORDS = ["N_", "gettext", "ngettext:1,2"]
# A %-conversion as Python's % operator reads it: %(name)s, %s, %d, %%...
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")


def _catalog(locale: str) -> Catalog:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def _messages(catalog: Catalog) -> Iterator[Message]:
    return (message for message in catalog if message.id)


def _key(message_id: str | tuple[str, ...]) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def _strings(message: Message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def _extract_source_ids() -> dict[str, str]:
    """Run Babel's extraction in-process, as `make i18n-extract` does: message id -> where."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(EXTRA_KEYWORDS)}
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.setdefault(_key(message), f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def thai() -> Catalog:
    return _catalog("th")


def test_thai_catalog_has_one_plural_form(thai: Catalog) -> None:
    assert thai.num_plurals == 1
    assert thai.plural_expr == "0"


def test_every_thai_message_is_translated_and_none_is_fuzzy(thai: Catalog) -> None:
    untranslated = [_key(m.id) for m in _messages(thai) if not all(_strings(m))]
    fuzzy = [_key(m.id) for m in _messages(thai) if m.fuzzy]
    assert not untranslated, f"Thai translation missing for: {untranslated}"
    assert not fuzzy, f"Fuzzy (unconfirmed, so not shown) Thai entries: {fuzzy}"
    assert not thai.fuzzy, "the Thai catalog header is marked fuzzy"


def test_thai_translations_keep_the_placeholders(thai: Catalog) -> None:
    problems = []
    for message in _messages(thai):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        # With one Thai form, msgstr[0] stands for the plural msgid (the one that names %(num)s).
        expected = _placeholders(ids[-1]) | _placeholders(ids[0])
        for string in _strings(message):
            if string and _placeholders(string) != expected:
                problems.append((ids[0], sorted(expected), sorted(_placeholders(string))))
            names = {name: 1 for name in re.findall(r"%\((\w+)\)", string)}
            try:
                # Templates always %-format (Jinja2 newstyle gettext), so every string must.
                string % names  # noqa: B018
            except (KeyError, ValueError, TypeError) as error:
                problems.append((ids[0], "cannot be %-formatted", repr(error)))
    assert not problems, "Placeholders differ between msgid and Thai msgstr:\n" + "\n".join(map(str, problems))


def test_catalogs_are_up_to_date_with_the_source(thai: Catalog) -> None:
    source = _extract_source_ids()
    assert source, "extraction found no messages: is babel.cfg still in the project root?"
    in_catalog = {_key(m.id) for m in _messages(thai)}
    missing = {msgid: where for msgid, where in source.items() if msgid not in in_catalog}
    assert not missing, (
        "Strings in the source but not in the Thai catalog (run `make i18n-extract` and translate them):\n"
        + "\n".join(f"  {msgid!r}  ({where})" for msgid, where in sorted(missing.items()))
    )
    # Extraction runs with --ignore-obsolete, so the th and en catalogs hold the same ids.
    assert {_key(m.id) for m in _messages(_catalog("en"))} == in_catalog


def test_english_catalog_stays_untranslated() -> None:
    """English is the source language: an empty msgstr means "show the msgid"."""
    english = _catalog("en")
    translated = [_key(m.id) for m in _messages(english) if any(_strings(m))]
    assert not translated, f"English entries should stay empty (the source is English): {translated}"


async def test_sign_in_page_in_thai_then_english(client) -> None:  # type: ignore[no-untyped-def]
    thai_page = await client.get("/sign-in")
    assert thai_page.status_code == 200
    assert '<html lang="th">' in thai_page.text
    assert "เข้าสู่ระบบด้วย Digital ID" in thai_page.text
    assert "Sign in with Digital ID" not in thai_page.text

    english_page = await client.get("/sign-in?lang=en")
    assert english_page.status_code == 200
    assert '<html lang="en">' in english_page.text
    assert "Sign in with Digital ID" in english_page.text
    assert "เข้าสู่ระบบด้วย Digital ID" not in english_page.text
