"""Message templates: Jinja2 text files per template, channel and language, rendered when queued."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, TemplateNotFound

from govhub.kit.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
SUBJECT_PREFIX = "Subject:"
# Template names become file names: letters, digits and underscores only.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# Plain text, never HTML: nothing to escape, and a person's name must arrive as typed.
_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Rendered:
    """A rendered message: the language actually used, a subject (empty for SMS) and the body."""

    locale: str
    subject: str
    body: str


def render_email(template: str, context: dict[str, Any], locale: str) -> Rendered:
    """Render `{template}.{locale}.txt`: a 'Subject:' line, a blank line, then the body."""
    used, text = _render(template, "", context, locale)
    head, _, body = text.partition("\n\n")
    if not head.startswith(SUBJECT_PREFIX):
        raise ValueError(f"notify template {template!r} does not start with a Subject line")
    # One line whatever the context holds: a newline in a header would be header injection.
    subject = " ".join(head[len(SUBJECT_PREFIX):].split())
    return Rendered(locale=used, subject=subject, body=_tidy(body))


def render_sms(template: str, context: dict[str, Any], locale: str) -> Rendered:
    """Render `{template}.sms.{locale}.txt`: the body alone, kept short."""
    used, text = _render(template, ".sms", context, locale)
    return Rendered(locale=used, subject="", body=" ".join(text.split()))


def _render(template: str, variant: str, context: dict[str, Any], locale: str) -> tuple[str, str]:
    """Render in `locale`, falling back to Thai; an unknown template is a programming error."""
    if not _NAME.match(template):
        raise ValueError(f"invalid notify template name {template!r}")
    chosen = locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE
    for candidate in dict.fromkeys((chosen, DEFAULT_LOCALE)):
        try:
            loaded = _env.get_template(f"notify/{template}{variant}.{candidate}.txt")
        except TemplateNotFound:
            continue
        return candidate, loaded.render(context)
    raise ValueError(f"unknown notify template {template + variant!r}")


def _tidy(body: str) -> str:
    """Strip trailing spaces and runs of blank lines that empty optional parts leave behind."""
    lines = [line.rstrip() for line in body.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
