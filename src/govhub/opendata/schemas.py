"""Validation of dataset and resource metadata as CKAN clients send it (package dicts).

Field names follow CKAN and the Thai GDC extension (`data_type`, `objective`, ...), so
existing tools and harvesters work unchanged. Coded fields accept a code or a Thai or English
label (`vocab`); every problem is collected per field, as CKAN's Validation Error reports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from govhub.kit.errors import ValidationFailed
from govhub.kit.i18n import N_, gettext
from govhub.opendata import vocab

NAME_PATTERN = re.compile(r"^[a-z0-9_-]{2,100}$")
UUID_SHAPE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Keywords may be Thai (whose vowel and tone marks are not "word" characters to a regex), so
# the pattern refuses what breaks markup, lists and paths rather than listing what is allowed.
TAG_PATTERN = re.compile(r"^[^\x00-\x1f\x7f<>\"\\/,;{}|]{1,100}$")
URL_PATTERN = re.compile(r"^https?://[^\s]+$")

# Fields a client may send back from package_show that are the platform's to set.
READ_ONLY_FIELDS = frozenset({
    "id", "type", "metadata_created", "metadata_modified", "creator_user_id", "revision",
    "num_resources", "num_tags", "organization", "isopen", "license_title", "license_url",
    "relationships_as_object", "relationships_as_subject", "tracking_summary", "quality",
})


class DatasetInvalid(ValidationFailed):
    """Metadata that breaks the schema: the errors per field, as CKAN reports them."""

    code = "validation_error"
    message = N_("Some of the information is not valid.")

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__()
        self.errors = errors
        self.field = next(iter(errors), None)

    def translated_errors(self) -> dict[str, list[str]]:
        """Each field's messages in the reader's language."""
        return {name: [gettext(message) for message in messages] for name, messages in self.errors.items()}

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body, with every field's messages."""
        body = super().to_dict()
        body["error"]["fields"] = self.translated_errors()
        return body


@dataclass
class Problems:
    """Errors collected while validating, per field."""

    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        """Record a problem with a field."""
        self.errors.setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        """Raise DatasetInvalid if anything was recorded."""
        if self.errors:
            raise DatasetInvalid(self.errors)


def _text(value: Any, *, name: str, problems: Problems, max_length: int, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            problems.add(name, N_("Missing value"))
        return ""
    if not isinstance(value, str):
        problems.add(name, N_("Must be text"))
        return ""
    value = value.strip()
    if len(value) > max_length:
        problems.add(name, N_("Too long"))
    if "\x00" in value:
        problems.add(name, N_("Contains characters that are not allowed"))
    return value


def _bool(value: Any, *, name: str, problems: Problems) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "ใช่"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off", "", "ไม่ใช่"):
        return False
    if value in (0, 1):
        return bool(value)
    problems.add(name, N_("Must be true or false"))
    return False


def _code(value: Any, vocabulary: vocab.Vocabulary, *, name: str, problems: Problems, required: bool) -> str:
    if value in (None, ""):
        if required:
            problems.add(name, N_("Missing value"))
        return ""
    code = vocabulary.code_of(str(value)) if isinstance(value, (str, int)) else None
    if code is None:
        problems.add(name, N_("Not one of the allowed values"))
        return ""
    return code


def _codes(value: Any, vocabulary: vocab.Vocabulary, *, name: str, problems: Problems) -> list[str]:
    if value in (None, "", []):
        return []
    items = value if isinstance(value, list) else [part for part in str(value).split(",")]
    codes: list[str] = []
    for item in items:
        code = vocabulary.code_of(str(item).strip()) if isinstance(item, (str, int)) else None
        if code is None:
            problems.add(name, N_("Not one of the allowed values"))
        elif code not in codes:
            codes.append(code)
    return codes


def _date(value: Any, *, name: str, problems: Problems) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        parsed = date.fromisoformat(str(value)[:10])
    except ValueError:
        problems.add(name, N_("Must be a date (YYYY-MM-DD)"))
        return None
    # A Buddhist-era year sent as a Gregorian date (2567-01-01) is a common slip on Thai forms.
    if parsed.year > 2400:
        parsed = parsed.replace(year=parsed.year - 543)
    return parsed


def _int(value: Any, *, name: str, problems: Problems, minimum: int, maximum: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        problems.add(name, N_("Must be a whole number"))
        return None
    if not minimum <= number <= maximum:
        problems.add(name, N_("Out of range"))
        return None
    return number


def _float(value: Any, *, name: str, problems: Problems, minimum: float, maximum: float) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        problems.add(name, N_("Must be a number"))
        return None
    if not minimum <= number <= maximum:
        problems.add(name, N_("Out of range"))
        return None
    return number


def _tags(data: dict[str, Any], problems: Problems) -> list[str] | None:
    if "tags" in data:
        raw = data["tags"] or []
        if not isinstance(raw, list):
            problems.add("tags", N_("Must be a list"))
            return []
        names = [item.get("name") if isinstance(item, dict) else item for item in raw]
    elif "tag_string" in data:
        names = [part for part in str(data["tag_string"] or "").split(",")]
    else:
        return None
    tags: list[str] = []
    for name in names:
        if not isinstance(name, str) or not TAG_PATTERN.match(name.strip()):
            problems.add("tags", N_("Keywords may not hold < > \" \\ / , ; { } | and must be 1 to 100 characters"))
            continue
        if name.strip() not in tags:
            tags.append(name.strip())
    return tags


def _group_names(data: dict[str, Any], problems: Problems) -> list[str] | None:
    if "groups" not in data:
        return None
    raw = data["groups"] or []
    if not isinstance(raw, list):
        problems.add("groups", N_("Must be a list"))
        return []
    names = []
    for item in raw:
        name = (item.get("name") or item.get("id")) if isinstance(item, dict) else item
        if isinstance(name, str) and name:
            names.append(name)
        else:
            problems.add("groups", N_("Not a group"))
    return names


# Fields of each dataset type (GDC): name -> (kind, bounds).
STATISTICAL_FIELDS = {
    "official_statistics": ("bool", None),
    "unit_of_measure": ("text", 255),
    "unit_of_multiplier": ("int", (1, 10**12)),
    "calculation_method": ("text", 2000),
    "standard": ("text", 500),
    "disaggregate": ("text", 500),
    "first_year_of_data": ("int", (1900, 2700)),
    "last_year_of_data": ("int", (1900, 2700)),
}
GEOSPATIAL_FIELDS = {
    "geographic_data_set": ("text", 500),
    "equivalent_scale": ("text", 100),
    "spatial_reference_system": ("text", 100),
    "west_bound_longitude": ("lon", None),
    "east_bound_longitude": ("lon", None),
    "south_bound_latitude": ("lat", None),
    "north_bound_latitude": ("lat", None),
    "positional_accuracy": ("text", 255),
    "reference_period": ("text", 255),
}
TYPE_FIELDS = {"statistical": STATISTICAL_FIELDS, "geospatial": GEOSPATIAL_FIELDS}
ALL_TYPE_FIELDS = {**STATISTICAL_FIELDS, **GEOSPATIAL_FIELDS}


def _type_fields(data: dict[str, Any], dataset_type: str, problems: Problems) -> dict[str, Any]:
    allowed = TYPE_FIELDS.get(dataset_type, {})
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in ALL_TYPE_FIELDS or value in (None, ""):
            continue
        if name not in allowed:
            problems.add(name, N_("This field does not belong to the dataset type"))
            continue
        kind, bounds = allowed[name]
        if kind == "bool":
            values[name] = _bool(value, name=name, problems=problems)
        elif kind == "text":
            values[name] = _text(value, name=name, problems=problems, max_length=bounds)  # type: ignore[arg-type]
        elif kind == "int":
            values[name] = _int(value, name=name, problems=problems, minimum=bounds[0], maximum=bounds[1])  # type: ignore[index]
        else:
            limit = 180.0 if kind == "lon" else 90.0
            values[name] = _float(value, name=name, problems=problems, minimum=-limit, maximum=limit)
    if dataset_type == "geospatial":
        _check_bounds(values, problems)
    first, last = values.get("first_year_of_data"), values.get("last_year_of_data")
    if first and last and first > last:
        problems.add("last_year_of_data", N_("The last year is before the first year"))
    return {name: value for name, value in values.items() if value is not None}


def _check_bounds(values: dict[str, Any], problems: Problems) -> None:
    west, east = values.get("west_bound_longitude"), values.get("east_bound_longitude")
    south, north = values.get("south_bound_latitude"), values.get("north_bound_latitude")
    if west is not None and east is not None and west > east:
        problems.add("east_bound_longitude", N_("The eastern bound is west of the western bound"))
    if south is not None and north is not None and south > north:
        problems.add("north_bound_latitude", N_("The northern bound is south of the southern bound"))


@dataclass
class PackageInput:
    """Clean dataset metadata, ready to store; None means "not given" (patch keeps the old value)."""

    values: dict[str, Any]
    tags: list[str] | None
    groups: list[str] | None
    owner_org: str | None
    resources: list[dict[str, Any]] | None


# CKAN/GDC field name -> (model attribute, parser). Parsers take (value, name, problems).
def parse_package(data: dict[str, Any], *, creating: bool) -> PackageInput:
    """Validate a package dict; every field problem is reported at once (DatasetInvalid)."""
    problems = Problems()
    if not isinstance(data, dict):
        raise DatasetInvalid({"__body": [N_("The request body must be a JSON object")]})
    given = {key: value for key, value in data.items() if key not in READ_ONLY_FIELDS}
    values: dict[str, Any] = {}

    def required(name: str) -> bool:
        return creating

    if creating or "name" in given:
        name = _text(given.get("name"), name="name", problems=problems, max_length=100, required=True)
        if name and not NAME_PATTERN.match(name):
            problems.add("name", N_("Must be 2 to 100 lower-case letters, digits, - or _"))
        elif name and UUID_SHAPE.match(name):
            problems.add("name", N_("A URL name may not look like an id"))
        values["name"] = name
    for key, attr, limit in (("title", "title", 500), ("notes", "notes", 100_000), ("title_en", "title_en", 500),
                             ("data_source", "data_source", 500), ("maintainer", "maintainer", 255)):
        if creating or key in given:
            values[attr] = _text(given.get(key), name=key, problems=problems, max_length=limit,
                                 required=creating and key == "title")
    if creating or "maintainer_email" in given:
        email = _text(given.get("maintainer_email"), name="maintainer_email", problems=problems, max_length=254)
        if email and not EMAIL_PATTERN.match(email):
            problems.add("maintainer_email", N_("Not an email address"))
        values["maintainer_email"] = email
    if creating or "url" in given:
        url = _text(given.get("url"), name="url", problems=problems, max_length=500)
        if url and not URL_PATTERN.match(url):
            problems.add("url", N_("Must be an http or https address"))
        values["url"] = url
    coded = (
        ("data_type", "dataset_type", vocab.DATASET_TYPES, True),
        ("update_frequency_unit", "update_frequency_unit", vocab.UPDATE_FREQUENCIES, True),
        ("geo_coverage", "geo_coverage", vocab.GEO_COVERAGES, True),
        ("data_category", "data_category", vocab.DATA_CATEGORIES, True),
        ("data_classification", "data_classification", vocab.CLASSIFICATIONS, False),
    )
    for key, attr, vocabulary, needed in coded:
        if creating or key in given:
            values[attr] = _code(given.get(key), vocabulary, name=key, problems=problems, required=needed and creating)
    if creating and not values.get("data_classification"):
        values["data_classification"] = "open" if values.get("data_category") == "public" else "internal"
    for key, attr, vocabulary in (("objective", "objectives", vocab.OBJECTIVES),
                                  ("data_format", "data_formats", vocab.STORAGE_FORMATS),
                                  ("data_language", "data_languages", vocab.LANGUAGES)):
        if creating or key in given:
            values[attr] = _codes(given.get(key), vocabulary, name=key, problems=problems)
    if creating and not values.get("objectives"):
        problems.add("objective", N_("Missing value"))
    if creating or "update_frequency_interval" in given:
        values["update_frequency_interval"] = _int(given.get("update_frequency_interval"),
                                                   name="update_frequency_interval", problems=problems,
                                                   minimum=1, maximum=1000)
    if creating or "license_id" in given:
        raw_licence = given.get("license_id")
        licence = vocab.license_id_of(raw_licence)
        if raw_licence and licence is None:
            problems.add("license_id", N_("Not one of the allowed values"))
        values["license_id"] = licence or ("notspecified" if creating else "")
        if not values["license_id"]:
            values.pop("license_id")
    for key, attr, default in (("private", "private", False), ("high_value_dataset", "high_value", False),
                               ("reference_data", "reference_data", False), ("allow_harvest", "allow_harvest", True)):
        if key in given:
            values[attr] = _bool(given[key], name=key, problems=problems)
        elif creating:
            values[attr] = default
    for key, attr in (("created_date", "data_created"), ("last_updated_date", "data_updated")):
        if creating or key in given:
            values[attr] = _date(given.get(key), name=key, problems=problems)
    if "state" in given and given["state"] not in (None, ""):
        if given["state"] not in ("draft", "active"):
            problems.add("state", N_("Must be draft or active"))
        else:
            values["state"] = given["state"]
    if "extras" in given:
        values["extras"] = _extras(given["extras"], problems)
    type_for_fields = values.get("dataset_type") or str(given.get("_current_type") or "")
    if creating or any(name in given for name in ALL_TYPE_FIELDS):
        values["type_fields"] = _type_fields(given, type_for_fields, problems)
    owner_org = given.get("owner_org")
    if creating and not owner_org:
        problems.add("owner_org", N_("Missing value"))
    resources = given.get("resources")
    if resources is not None and not isinstance(resources, list):
        problems.add("resources", N_("Must be a list"))
        resources = None
    tags = _tags(given, problems)
    groups = _group_names(given, problems)
    problems.raise_if_any()
    return PackageInput(values=values, tags=tags, groups=groups,
                        owner_org=str(owner_org) if owner_org else None, resources=resources)


def _extras(raw: Any, problems: Problems) -> dict[str, str]:
    if not isinstance(raw, list):
        problems.add("extras", N_("Must be a list"))
        return {}
    extras: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or len(item["key"]) > 100:
            problems.add("extras", N_("Each extra needs a key and a value"))
            continue
        extras[item["key"]] = str(item.get("value", ""))[:5000]
    return extras


def check_governance(values: dict[str, Any], problems: Problems | None = None) -> None:
    """Only public, openly classified data may be public on an open data portal."""
    problems = problems or Problems()
    is_open = values.get("data_category") == "public" and values.get("data_classification") == "open"
    if not is_open and not values.get("private"):
        problems.add("private", N_("Data that is not public and openly classified must be private"))
    problems.raise_if_any()


def parse_resource(data: dict[str, Any], *, creating: bool, is_upload: bool) -> dict[str, Any]:
    """Validate a resource dict (the file itself is checked by `resources`)."""
    problems = Problems()
    if not isinstance(data, dict):
        raise DatasetInvalid({"__body": [N_("The request body must be a JSON object")]})
    values: dict[str, Any] = {}
    for key, limit in (("name", 500), ("description", 10_000)):
        if creating or key in data:
            values[key] = _text(data.get(key), name=key, problems=problems, max_length=limit)
    if "format" in data or creating:
        fmt = _text(data.get("format"), name="format", problems=problems, max_length=32)
        values["format"] = fmt.upper().lstrip(".")
    if not is_upload and (creating or "url" in data):
        url = _text(data.get("url"), name="url", problems=problems, max_length=2000, required=creating)
        if url and not URL_PATTERN.match(url):
            problems.add("url", N_("Must be an http or https address"))
        values["url"] = url
    problems.raise_if_any()
    return values
