"""E-forms at run time: turn posted text into typed values and explain what is wrong, in Thai or English.

The e-form's JSON Schema is the rule; jsonschema finds what breaks it, and each kind of
failure becomes one sentence naming the field by its label, as GOV.UK's error messages do
("Enter the shop name", not "'shop_name' is a required property").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from govhub.kit.i18n import N_, current_locale, gettext
from govhub.onestop.definitions import EForm, FormField, ServiceDefinition

MESSAGES = {
    "required": N_("Enter %(label)s."),
    "required_choice": N_("Choose %(label)s."),
    "required_file": N_("Upload %(label)s."),
    "pattern": N_("%(label)s is not in the right format."),
    "maxLength": N_("%(label)s must be %(limit)s characters or fewer."),
    "minLength": N_("%(label)s must be at least %(limit)s characters."),
    "minimum": N_("%(label)s must be %(limit)s or more."),
    "maximum": N_("%(label)s must be %(limit)s or less."),
    "number": N_("Enter %(label)s as a number."),
    "integer": N_("Enter %(label)s as a whole number."),
    "enum": N_("Choose one of the options for %(label)s."),
    "email": N_("Enter %(label)s as an email address, like name@example.com."),
    "date": N_("Enter %(label)s as a date."),
    "invalid": N_("%(label)s is not valid."),
}


@dataclass(frozen=True)
class FieldError:
    """One problem with one field; translated when shown."""

    field: str
    message: str
    params: dict[str, Any]

    def text(self) -> str:
        """The message in the current language."""
        return gettext(self.message, **self.params)


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Draft202012Validator:
    import json

    return Draft202012Validator(json.loads(schema_json), format_checker=FormatChecker())


def validator_for(form: EForm) -> Draft202012Validator:
    """A compiled validator of the form's schema (cached: manuals never change in place)."""
    import json

    return _validator(json.dumps(form.json_schema, sort_keys=True))


def fields_of(form: EForm) -> dict[str, FormField]:
    """Every field of the form by name."""
    return {field.name: field for page in form.pages for field in page.fields}


def label(field: FormField) -> str:
    """The field's label in the current language."""
    return field.label.th if current_locale.get() == "th" else field.label.en


def coerce(form: EForm, posted: dict[str, str], names: list[str]) -> dict[str, Any]:
    """The posted text of these fields as the schema's types; text that does not parse stays text."""
    properties = form.json_schema.get("properties") or {}
    values: dict[str, Any] = {}
    for name in names:
        kind = (properties.get(name) or {}).get("type")
        raw = posted.get(name)
        if kind == "boolean":
            values[name] = raw in ("1", "true", "on", "yes")
            continue
        text = (raw or "").strip() if isinstance(raw, str) else raw
        if text in (None, ""):
            continue
        values[name] = _typed(kind, text)
    return values


def _typed(kind: str | None, text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        if kind == "integer":
            return int(text.replace(",", ""))
        if kind == "number":
            number = float(text.replace(",", ""))
            return int(number) if number.is_integer() else number
    except ValueError:
        return text
    return text


def validate(definition: ServiceDefinition, data: dict[str, Any], *, only: list[str] | None = None) -> list[FieldError]:
    """What is wrong with the data, field by field (only the named fields, when given)."""
    form = definition.form
    by_name = fields_of(form)
    errors: dict[str, FieldError] = {}
    for error in validator_for(form).iter_errors(data):
        field_name, problem = _field_and_problem(error)
        if field_name is None or field_name not in by_name:
            continue
        if only is not None and field_name not in only:
            continue
        errors.setdefault(field_name, _describe(by_name[field_name], problem, error))
    order = list(by_name)
    return sorted(errors.values(), key=lambda item: order.index(item.field))


def _field_and_problem(error: ValidationError) -> tuple[str | None, str]:
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else None
        return missing, "required"
    path = [part for part in error.absolute_path if isinstance(part, str)]
    return (path[0] if path else None), str(error.validator)


def _describe(field: FormField, problem: str, error: ValidationError) -> FieldError:
    params: dict[str, Any] = {"label": label(field)}
    if problem == "required" or (problem == "minLength" and error.validator_value == 1):
        key = {"file": "required_file", "select": "required_choice", "radio": "required_choice"}.get(field.widget, "required")
        return FieldError(field.name, MESSAGES[key], params)
    if problem in ("maxLength", "minLength", "minimum", "maximum"):
        return FieldError(field.name, MESSAGES[problem], {**params, "limit": error.validator_value})
    if problem == "type":
        kind = "integer" if error.validator_value == "integer" else "number"
        return FieldError(field.name, MESSAGES[kind], params)
    if problem == "format" and error.validator_value in ("email", "date"):
        return FieldError(field.name, MESSAGES[str(error.validator_value)], params)
    return FieldError(field.name, MESSAGES.get(problem, MESSAGES["invalid"]), params)


def page_fields(form: EForm, page: int) -> list[str]:
    """The names of the fields on one page (0-based)."""
    return [field.name for field in form.pages[page].fields]
