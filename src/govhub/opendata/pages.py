"""The open-data portal: dataset search, dataset pages with a datastore preview, history,
organizations and groups, the quality page, and the publishers' forms.

Every operation goes through `opendata.service` and `opendata.resources`, the same functions
the CKAN API calls; who may do what is decided there. These routes are included after the
DCAT routes (so `/dataset/{name}.ttl` is answered there) and after the API's download route.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile

from govhub.config import get_settings
from govhub.db import SessionDep
from govhub.identity.auth import PublicCaller, SignedIn
from govhub.kit.clock import format_datetime, format_day, utcnow
from govhub.kit.errors import AppError, NotFound, ValidationFailed
from govhub.kit.i18n import N_, current_locale, gettext
from govhub.opendata import quality, repository, resources, search, service, vocab
from govhub.opendata.models import Dataset, DatasetState, Organization
from govhub.opendata.schemas import (
    ALL_TYPE_FIELDS,
    GEOSPATIAL_FIELDS,
    STATISTICAL_FIELDS,
    DatasetInvalid,
)
from govhub.web.forms import see_other
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
FACET_LIMIT = 20
PREVIEW_ROWS = 20
MAX_FILTERS = 20
MAX_PAGE = 10_000

FACET_LABELS = {
    "organization": N_("Organization"),
    "groups": N_("Group"),
    "tags": N_("Keyword"),
    "res_format": N_("Format"),
    "license_id": N_("Licence"),
    "data_type": N_("Dataset type"),
    "data_category": N_("Data category"),
    "high_value_dataset": N_("High-value dataset"),
}
SORT_LABELS = {
    "score desc": N_("Best match"),
    "metadata_modified desc": N_("Recently changed"),
    "metadata_created desc": N_("Newest"),
    "title_string asc": N_("Title (A to Z)"),
    "name asc": N_("URL name (A to Z)"),
}

# Labels of the package fields, for forms, error summaries and the history.
FIELD_LABELS = {
    "owner_org": N_("Organization"),
    "name": N_("URL name"),
    "title": N_("Title in Thai"),
    "title_en": N_("Title in English"),
    "notes": N_("Description"),
    "data_type": N_("Dataset type"),
    "objective": N_("Objectives"),
    "update_frequency_unit": N_("Update frequency"),
    "update_frequency_interval": N_("Updated every (number of units)"),
    "geo_coverage": N_("Geographic coverage"),
    "data_source": N_("Data source"),
    "data_format": N_("Formats the data is kept in"),
    "data_category": N_("Data governance category"),
    "data_classification": N_("Classification"),
    "license_id": N_("Licence"),
    "data_language": N_("Languages of the data"),
    "tags": N_("Keywords"),
    "tag_string": N_("Keywords"),
    "groups": N_("Groups"),
    "maintainer": N_("Contact person"),
    "maintainer_email": N_("Contact email"),
    "url": N_("Source web page"),
    "created_date": N_("Data first collected on"),
    "last_updated_date": N_("Data last updated on"),
    "high_value_dataset": N_("High-value dataset"),
    "reference_data": N_("Reference data"),
    "allow_harvest": N_("Other portals may harvest it"),
    "private": N_("Private"),
    "state": N_("Status"),
    "resources": N_("Resources"),
    "extras": N_("Other fields"),
    "metadata_created": N_("Catalogued on"),
    "metadata_modified": N_("Metadata changed on"),
    "owner": N_("Organization"),
    # Statistical data
    "official_statistics": N_("Official statistics"),
    "unit_of_measure": N_("Unit of measure"),
    "unit_of_multiplier": N_("Unit multiplier"),
    "calculation_method": N_("Calculation method"),
    "standard": N_("Standard or classification used"),
    "disaggregate": N_("Disaggregation"),
    "first_year_of_data": N_("First year of data"),
    "last_year_of_data": N_("Last year of data"),
    # Geospatial data
    "geographic_data_set": N_("Geographic data set"),
    "equivalent_scale": N_("Equivalent scale"),
    "spatial_reference_system": N_("Spatial reference system"),
    "west_bound_longitude": N_("West bound longitude"),
    "east_bound_longitude": N_("East bound longitude"),
    "south_bound_latitude": N_("South bound latitude"),
    "north_bound_latitude": N_("North bound latitude"),
    "positional_accuracy": N_("Positional accuracy"),
    "reference_period": N_("Reference period"),
    # Resources
    "upload": N_("File"),
    "format": N_("Format"),
    "description": N_("Description"),
    "package_id": N_("Dataset"),
}
RESOURCE_FIELD_LABELS = {"name": N_("Name"), "url": N_("Link to the data")}
TYPE_FIELD_HINTS = {
    "unit_of_multiplier": N_("For example 1000 when the figures are in thousands."),
    "first_year_of_data": N_("A year in the Buddhist or the Common Era, for example 2567 or 2024."),
    "last_year_of_data": N_("A year in the Buddhist or the Common Era, for example 2567 or 2024."),
    "spatial_reference_system": N_("For example EPSG:4326 (WGS 84) or EPSG:32647 (UTM zone 47N)."),
    "west_bound_longitude": N_("Decimal degrees, from -180 to 180."),
    "east_bound_longitude": N_("Decimal degrees, from -180 to 180."),
    "south_bound_latitude": N_("Decimal degrees, from -90 to 90."),
    "north_bound_latitude": N_("Decimal degrees, from -90 to 90."),
}
ACTION_LABELS = {
    "created": N_("Dataset created"),
    "updated": N_("Metadata changed"),
    "deleted": N_("Dataset deleted"),
    "resource_created": N_("Resource added"),
    "resource_updated": N_("Resource changed"),
    "resource_deleted": N_("Resource removed"),
    "harvested": N_("Harvested from another portal"),
}
DONE_MESSAGES = {
    "created": N_("The dataset was saved."),
    "saved": N_("Your changes were saved."),
    "resource-added": N_("The resource was added."),
    "resource-saved": N_("The resource was saved."),
    "resource-deleted": N_("The resource was removed."),
    "deleted": N_("The dataset was deleted."),
}
# Formats offered in the resource form (any other may be typed for a link).
RESOURCE_FORMATS = ("CSV", "XLSX", "JSON", "GEOJSON", "XML", "ODS", "KML", "SHP", "PDF", "API", "HTML")
LIST_FIELDS = ("objective", "data_format", "data_language", "groups")
TEXT_FIELDS = ("owner_org", "name", "title", "title_en", "notes", "data_type", "update_frequency_unit",
               "update_frequency_interval", "geo_coverage", "data_source", "data_category", "data_classification",
               "license_id", "tag_string", "maintainer", "maintainer_email", "url", "created_date",
               "last_updated_date")
FLAG_FIELDS = ("high_value_dataset", "reference_data", "allow_harvest", "private")


# ---------------------------------------------------------------- helpers

def _locale() -> str:
    return current_locale.get()


def _page_number(value: str) -> int:
    """A page number from the query (anything odd shows the first page, not an error)."""
    return min(max(int(value) if value.isdigit() else 1, 1), MAX_PAGE)


def filesize(size: int | None) -> str:
    """A file size for people: 12.3 MB."""
    if not size:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def _done(done: str) -> dict[str, str] | None:
    message = DONE_MESSAGES.get(done)
    return {"kind": "success", "text": gettext(message)} if message else None


def _licence_title(licence_id: str | None) -> str:
    licence = vocab.LICENSES_BY_ID.get(licence_id or "")
    if licence is None:
        return licence_id or ""
    return licence.title_th if _locale() == "th" else licence.title


def _dataset_title(package: dict[str, Any]) -> str:
    return package.get("title_en") or package["title"] if _locale() == "en" else package["title"]


def _field_label(name: str) -> str:
    return gettext(FIELD_LABELS.get(name, name)) if name in FIELD_LABELS else name


async def _actor(session: SessionDep, caller: Any) -> service.Actor:
    return await service.actor_for(session, caller)


# ---------------------------------------------------------------- search

class _Titles:
    """Display names of facet values in the reader's language, loaded once per page."""

    def __init__(self, organizations: list[Organization], groups: list[Any]) -> None:
        self.organizations = {org.name: org for org in organizations}
        self.groups = {group.name: group for group in groups}

    def __call__(self, name: str, value: str) -> str:
        locale = _locale()
        if name == "organization" and value in self.organizations:
            return self.organizations[value].title(locale)
        if name == "groups" and value in self.groups:
            return str(self.groups[value].title(locale))
        if name == "data_type":
            return vocab.DATASET_TYPES.label(value)
        if name == "data_category":
            return vocab.DATA_CATEGORIES.label(value)
        if name == "license_id":
            return _licence_title(value)
        if name == "high_value_dataset":
            return gettext(N_("Yes")) if value == "true" else gettext(N_("No"))
        return value


def _filters_from(request: Request, fixed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    filters = []
    for key, value in request.query_params.multi_items():
        if key in search.FACET_FIELDS and value and len(value) <= 255 and (key, value) not in filters \
                and (key, value) not in fixed:
            filters.append((key, value))
    return filters[:MAX_FILTERS]


def _url(base: str, params: list[tuple[str, str]]) -> str:
    kept = [(key, value) for key, value in params if value not in ("", None)]
    return f"{base}?{urlencode(kept)}" if kept else base


async def _search_context(request: Request, session: SessionDep, actor: service.Actor, *, base: str,
                          fixed: list[tuple[str, str]], q: str, sort: str, page: str) -> dict[str, Any]:
    filters = _filters_from(request, fixed)
    # "Best match" ranks by the search words, and without words shows the latest changes first.
    sort = sort if sort in SORT_LABELS else "score desc"
    page_number = _page_number(page)
    sees_private = actor.is_admin or bool(actor.member_org_ids)
    query = search.SearchQuery(
        q=q, filters=fixed + filters, facet_fields=list(search.FACET_FIELDS), facet_limit=FACET_LIMIT,
        rows=PAGE_SIZE, start=(page_number - 1) * PAGE_SIZE, sort=sort,
        private_org_ids=actor.readable_private_orgs, include_private=sees_private, include_drafts=sees_private,
    )
    result = await search.search(session, query)
    pages = max(1, -(-result.count // PAGE_SIZE))
    if page_number > pages:
        page_number = pages
        query.start = (page_number - 1) * PAGE_SIZE
        result = await search.search(session, query)
    datasets = await repository.datasets_by_ids(session, result.ids)
    packages = await service.package_dicts(session, datasets)
    titles = _Titles(await repository.organizations(session), await repository.groups(session))
    state = [("q", q)] + ([("sort", sort)] if sort != "score desc" else [])

    def link(*, add: tuple[str, str] | None = None, remove: tuple[str, str] | None = None,
             to_page: int | None = None) -> str:
        chosen = [pair for pair in filters if pair != remove] + ([add] if add and add not in filters else [])
        return _url(base, state + chosen + ([("page", str(to_page))] if to_page and to_page > 1 else []))

    facets = [
        {"name": name, "label": gettext(FACET_LABELS[name]),
         "items": [{"value": value, "count": count, "title": titles(name, value),
                    "active": (name, value) in filters or (name, value) in fixed,
                    "url": link(remove=(name, value)) if (name, value) in filters else link(add=(name, value))}
                   for value, count in result.facets.get(name, {}).items()]}
        for name in search.FACET_FIELDS
    ]
    active = [{"name": name, "label": gettext(FACET_LABELS[name]), "title": titles(name, value),
               "remove_url": link(remove=(name, value))} for name, value in filters]
    return {
        "q": q, "sort": sort, "sorts": [(key, gettext(label)) for key, label in SORT_LABELS.items()],
        "filters": filters, "active": active, "facets": [facet for facet in facets if facet["items"]],
        "results": packages, "count": result.count, "page": page_number, "pages": pages,
        "previous_url": link(to_page=page_number - 1) if page_number > 1 else None,
        "next_url": link(to_page=page_number + 1) if page_number < pages else None,
        "base": base, "organization_titles": titles, "dataset_title": _dataset_title,
        "may_publish_any": bool(actor.publisher_org_ids) or actor.is_admin,
    }


@router.get("/dataset")
async def dataset_search(
    request: Request,
    session: SessionDep,
    caller: PublicCaller,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[str, Query(max_length=6)] = "1",
) -> HTMLResponse:
    """Search the catalog in Thai or English, narrowed by facets."""
    actor = await _actor(session, caller)
    context = await _search_context(request, session, actor, base="/dataset", fixed=[], q=q, sort=sort, page=page)
    template = "opendata/_results.html" if _htmx_target(request) == "search-results" else "opendata/search.html"
    return render(request, template, {**context, "heading": gettext(N_("Open data")), "done": _done(
        request.query_params.get("done", ""))})


def _htmx_target(request: Request) -> str | None:
    """The element an HTMX request will swap (None for ordinary requests and history restores)."""
    if request.headers.get("hx-request") != "true" or request.headers.get("hx-history-restore-request"):
        return None
    return request.headers.get("hx-target")


# ---------------------------------------------------------------- organizations and groups

@router.get("/organization")
async def organization_list(request: Request, session: SessionDep, caller: PublicCaller) -> HTMLResponse:
    """Every publishing organization, with its number of public datasets."""
    return _listing_page(request, "organization", await repository.organizations(session),
                         await service.counts_by_organization(session))


def _listing_page(request: Request, kind: str, items: Sequence[Any], counts: dict[str, int]) -> HTMLResponse:
    """The list of organizations or groups, by title in the reader's language, with dataset counts."""
    rows = sorted(({"name": item.name, "title": item.title(_locale()), "description": item.description,
                    "count": counts.get(item.id, 0)} for item in items), key=lambda row: str(row["title"]))
    return render(request, "opendata/list.html", {"kind": kind, "items": rows})


async def _listed_datasets(request: Request, session: SessionDep, caller: Any, *, base: str,
                           fixed: list[tuple[str, str]], q: str, sort: str, page: str,
                           extra: dict[str, Any] | Callable[[Any], dict[str, Any]]) -> HTMLResponse:
    """An organization's or a group's page: its datasets searched like /dataset, within it."""
    actor = await _actor(session, caller)
    context = await _search_context(request, session, actor, base=base, fixed=fixed, q=q, sort=sort, page=page)
    template = "opendata/_results.html" if _htmx_target(request) == "search-results" else "opendata/search.html"
    details = extra(actor) if callable(extra) else extra
    return render(request, template, {**context, **details})


@router.get("/organization/{name}")
async def organization_page(
    request: Request,
    name: str,
    session: SessionDep,
    caller: PublicCaller,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[str, Query(max_length=6)] = "1",
) -> HTMLResponse:
    """An organization and its datasets (its publishers also see its drafts and private ones)."""
    organization = await repository.organization_by_id_or_name(session, name)
    if organization is None or not organization.is_active:
        raise NotFound()
    return await _listed_datasets(
        request, session, caller, base=f"/organization/{organization.name}",
        fixed=[("organization", organization.name)], q=q, sort=sort, page=page,
        extra=lambda actor: {
            "heading": organization.title(_locale()), "organization": organization,
            "description": organization.description, "may_publish_here": actor.may_publish(organization.id),
            "done": _done(request.query_params.get("done", "")),
        })


@router.get("/group")
async def group_list(request: Request, session: SessionDep, caller: PublicCaller) -> HTMLResponse:
    """Every theme datasets are filed under, with its number of public datasets."""
    return _listing_page(request, "group", await repository.groups(session), await repository.group_counts(session))


@router.get("/group/{name}")
async def group_page(
    request: Request,
    name: str,
    session: SessionDep,
    caller: PublicCaller,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[str, Query(max_length=6)] = "1",
) -> HTMLResponse:
    """A group and the datasets filed under it."""
    group = await repository.group_by_id_or_name(session, name)
    if group is None:
        raise NotFound()
    return await _listed_datasets(
        request, session, caller, base=f"/group/{group.name}", fixed=[("groups", group.name)], q=q, sort=sort,
        page=page, extra={"heading": group.title(_locale()), "group": group, "description": group.description,
                          "done": None})


# ---------------------------------------------------------------- the quality page

QUALITY_SORTS = {
    "name": lambda row: row.title(_locale()),
    "datasets": lambda row: row.datasets,
    "resources": lambda row: row.resources,
    "machine_readable": lambda row: row.machine_readable,
    "share": lambda row: -1.0 if row.share is None else row.share,
    "quality": lambda row: -1.0 if row.average_quality is None else row.average_quality,
}
QUALITY_COLUMNS = (
    ("name", N_("Organization")),
    ("datasets", N_("Datasets")),
    ("resources", N_("Resources")),
    ("machine_readable", N_("Machine-readable resources")),
    ("share", N_("Machine-readable share")),
    ("quality", N_("Average quality score")),
)


@router.get("/opendata/quality")
async def quality_page(request: Request, session: SessionDep, caller: PublicCaller, sort: str = "share",
                       order: str = "") -> HTMLResponse:
    """Each agency's share of machine-readable resources and the average quality of its datasets."""
    sort = sort if sort in QUALITY_SORTS else "share"
    order = order if order in ("asc", "desc") else ("asc" if sort == "name" else "desc")
    rows = await quality.cached_machine_readable_share(session)
    rows.sort(key=QUALITY_SORTS[sort], reverse=order == "desc")
    total_resources = sum(row.resources for row in rows)
    total_machine = sum(row.machine_readable for row in rows)
    columns = []
    for key, label in QUALITY_COLUMNS:
        next_order = ("desc" if order == "asc" else "asc") if key == sort else ("asc" if key == "name" else "desc")
        columns.append({"key": key, "label": gettext(label), "url": _url("/opendata/quality",
                                                                         [("sort", key), ("order", next_order)]),
                        "aria_sort": ("ascending" if order == "asc" else "descending") if key == sort else None})
    return render(request, "opendata/quality.html", {
        "rows": rows, "columns": columns, "sort": sort, "order": order,
        "overall_share": 100.0 * total_machine / total_resources if total_resources else None,
        "total_resources": total_resources, "total_machine": total_machine,
        "criteria": [(gettext(title), weight) for weight, title, _ in quality.CRITERIA.values()],
    })


@router.get("/opendata/type-fields")
async def type_fields_fragment(request: Request, caller: PublicCaller, data_type: str = "") -> HTMLResponse:
    """The form fields of a dataset type (HTMX swaps them in when the type changes)."""
    form = {name: request.query_params.get(name, "") for name in ALL_TYPE_FIELDS}
    form["data_type"] = vocab.DATASET_TYPES.code_of(data_type) or ""
    return render(request, "opendata/_type_fields.html", {**_form_choices(), "form": form, "errors": {}})


# ---------------------------------------------------------------- publishers' dataset forms

def _choices(vocabulary: vocab.Vocabulary) -> list[tuple[str, str]]:
    return [(term.code, term.label()) for term in vocabulary.terms]


def _form_choices() -> dict[str, Any]:
    return {
        "dataset_types": _choices(vocab.DATASET_TYPES), "objectives": _choices(vocab.OBJECTIVES),
        "frequencies": _choices(vocab.UPDATE_FREQUENCIES), "coverages": _choices(vocab.GEO_COVERAGES),
        "storage_formats": _choices(vocab.STORAGE_FORMATS), "categories": _choices(vocab.DATA_CATEGORIES),
        "classifications": _choices(vocab.CLASSIFICATIONS), "languages": _choices(vocab.LANGUAGES),
        "licences": [(licence.id, _licence_title(licence.id), licence.is_open) for licence in vocab.LICENSES],
        "statistical_fields": list(STATISTICAL_FIELDS), "geospatial_fields": list(GEOSPATIAL_FIELDS),
        "field_kinds": {name: kind for name, (kind, _bounds) in ALL_TYPE_FIELDS.items()},
        "labels": {name: gettext(label) for name, label in FIELD_LABELS.items()},
        "hints": {name: gettext(hint) for name, hint in TYPE_FIELD_HINTS.items()},
    }


async def _publishable(session: SessionDep, actor: service.Actor) -> list[Organization]:
    return [org for org in await repository.organizations(session) if actor.may_publish(org.id)]


async def _form_context(session: SessionDep, actor: service.Actor, form: dict[str, Any], *, mode: str,
                        dataset: Dataset | None = None, errors: dict[str, list[str]] | None = None,
                        package: dict[str, Any] | None = None) -> dict[str, Any]:
    organizations = await _publishable(session, actor)
    groups = await repository.groups(session)
    errors = errors or {}
    summary = [{"field": name, "label": _field_label(name), "message": message, "anchor": _anchor(name, form)}
               for name, messages in errors.items() for message in messages]
    context = {
        **_form_choices(), "mode": mode, "form": form, "errors": errors, "summary": summary,
        "organizations": [(org.name, org.title(_locale())) for org in organizations],
        "groups": [(group.name, group.title(_locale())) for group in groups],
        "dataset": dataset, "package": package,
    }
    if dataset is not None and package is not None:
        context["quality"] = quality.quality_of(package, dataset)
    return context


def _anchor(name: str, form: dict[str, Any]) -> str:
    """The id of the control an error summary's link should move to."""
    if name == "tags":
        return "tag_string"
    if name in ("objective", "data_format", "data_language", "groups"):
        return f"{name}-0"
    if name in FLAG_FIELDS:
        return name
    if name in ("__body", "extras", "resources", "state", "id"):
        return "dataset-form"
    return name


def _form_from(posted: Any) -> dict[str, Any]:
    """What the person typed and chose, kept as typed for showing the form again."""
    form: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = posted.get(name)
        form[name] = value.strip() if isinstance(value, str) and name != "notes" else (value or "")
    for name in LIST_FIELDS:
        form[name] = [value for value in posted.getlist(name) if isinstance(value, str) and value][:50]
    for name in FLAG_FIELDS:
        form[name] = posted.get(name) in ("on", "true", "1")
    for name in ALL_TYPE_FIELDS:
        value = posted.get(name)
        form[name] = value.strip() if isinstance(value, str) else ""
    return form


def _package_from(form: dict[str, Any], *, state: str | None) -> dict[str, Any]:
    """The package dict the form stands for (CKAN field names, as the API takes them)."""
    data: dict[str, Any] = {name: form[name] for name in TEXT_FIELDS if name != "tag_string"}
    data["tag_string"] = form["tag_string"]
    for name in ("objective", "data_format", "data_language"):
        data[name] = form[name]
    data["groups"] = [{"name": name} for name in form["groups"]]
    for name in FLAG_FIELDS:
        data[name] = form[name]
    for name, (kind, _bounds) in ALL_TYPE_FIELDS.items():
        value = form.get(name, "")
        if kind == "bool":
            if value in ("on", "true"):
                data[name] = True
        elif value != "":
            data[name] = value
    if state:
        data["state"] = state
    return data


def _form_of_package(package: dict[str, Any]) -> dict[str, Any]:
    """The edit form filled from a dataset's package dict."""
    form: dict[str, Any] = {
        "owner_org": package["organization"]["name"], "name": package["name"], "title": package["title"],
        "title_en": package["title_en"], "notes": package["notes"], "data_type": package["data_type"],
        "update_frequency_unit": package["update_frequency_unit"],
        "update_frequency_interval": str(package["update_frequency_interval"] or ""),
        "geo_coverage": package["geo_coverage"], "data_source": package["data_source"],
        "data_category": package["data_category"], "data_classification": package["data_classification"],
        "license_id": package["license_id"], "tag_string": ", ".join(tag["name"] for tag in package["tags"]),
        "maintainer": package["maintainer"], "maintainer_email": package["maintainer_email"], "url": package["url"],
        "created_date": package["created_date"] or "", "last_updated_date": package["last_updated_date"] or "",
        "objective": list(package["objective"]), "data_format": list(package["data_format"]),
        "data_language": list(package["data_language"]), "groups": [group["name"] for group in package["groups"]],
        "high_value_dataset": package["high_value_dataset"], "reference_data": package["reference_data"],
        "allow_harvest": package["allow_harvest"], "private": package["private"],
    }
    for name, (kind, _bounds) in ALL_TYPE_FIELDS.items():
        value = package.get(name)
        form[name] = ("on" if value else "") if kind == "bool" else ("" if value is None else str(value))
    return form


NEW_DEFAULTS: dict[str, Any] = {
    "data_type": "record", "update_frequency_unit": "year", "update_frequency_interval": "1",
    "geo_coverage": "country", "data_category": "public", "data_classification": "open", "license_id": "Open-D",
    "objective": [], "data_format": [], "data_language": ["th"], "groups": [], "allow_harvest": True,
    "private": False, "high_value_dataset": False, "reference_data": False,
}


def _blank_form(organizations: list[Organization], owner: str = "") -> dict[str, Any]:
    form: dict[str, Any] = {name: "" for name in (*TEXT_FIELDS, *ALL_TYPE_FIELDS)}
    form.update({key: list(value) if isinstance(value, list) else value for key, value in NEW_DEFAULTS.items()})
    names = [org.name for org in organizations]
    form["owner_org"] = owner if owner in names else (names[0] if len(names) == 1 else "")
    return form


def _invalid(error: AppError) -> dict[str, list[str]]:
    """Errors per field from any validation error (messages in the reader's language)."""
    if isinstance(error, DatasetInvalid):
        return error.translated_errors()
    field = error.field if isinstance(error, ValidationFailed) and error.field else "__body"
    return {field: [error.translated()]}


@router.get("/dataset/new")
async def new_dataset_form(request: Request, session: SessionDep, caller: SignedIn, organization: str = "") -> HTMLResponse:
    """The form for a new dataset (publishers of an organization)."""
    actor = await _actor(session, caller)
    organizations = await _publishable(session, actor)
    if not organizations:
        raise service.NotPublisher()
    return render(request, "opendata/dataset_form.html",
                  await _form_context(session, actor, _blank_form(organizations, organization), mode="new"))


@router.post("/dataset/new")
async def create_dataset(request: Request, session: SessionDep, caller: SignedIn) -> Response:
    """Save a new dataset as a draft or publish it; mistakes show the form again and save nothing."""
    actor = await _actor(session, caller)
    posted = await request.form(max_files=0, max_fields=300)
    form = _form_from(posted)
    intent = str(posted.get("intent") or "draft")
    if intent == "refresh":  # "show the fields of this type" without JavaScript
        return render(request, "opendata/dataset_form.html", await _form_context(session, actor, form, mode="new"))
    try:
        dataset = await service.package_create(
            session, actor, _package_from(form, state="active" if intent == "publish" else "draft"))
        name = dataset.name
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return render(request, "opendata/dataset_form.html", await _form_context(
            session, actor, form, mode="new", errors={"name": [gettext(N_("That URL is already in use."))]}),
            status_code=409)
    except (DatasetInvalid, ValidationFailed) as error:
        await session.rollback()
        return render(request, "opendata/dataset_form.html", await _form_context(
            session, actor, form, mode="new", errors=_invalid(error)), status_code=error.status_code)
    return see_other(f"/dataset/{name}?done=created")


async def _own_dataset(session: SessionDep, actor: service.Actor, name: str) -> Dataset:
    """A dataset the actor may change: 404 if they may not see it, 403 if they may not publish it."""
    dataset = await service.get_dataset(session, actor, name)
    service.require_publisher(actor, dataset.organization_id)
    if dataset.state == DatasetState.DELETED:
        raise service.DatasetNotFound()
    return dataset


@router.get("/dataset/{name}/edit")
async def edit_dataset_form(request: Request, name: str, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """The dataset's metadata in a form, with its quality and what to fix."""
    actor = await _actor(session, caller)
    dataset = await _own_dataset(session, actor, name)
    package = await service.package_dict_of(session, dataset)
    return render(request, "opendata/dataset_form.html", await _form_context(
        session, actor, _form_of_package(package), mode="edit", dataset=dataset, package=package))


@router.post("/dataset/{name}/edit")
async def update_dataset(request: Request, name: str, session: SessionDep, caller: SignedIn) -> Response:
    """Save the metadata (recorded in the history); mistakes show the form again and change nothing."""
    actor = await _actor(session, caller)
    dataset = await _own_dataset(session, actor, name)
    dataset_id = dataset.id
    posted = await request.form(max_files=0, max_fields=300)
    form = _form_from(posted)
    intent = str(posted.get("intent") or "save")

    async def again(errors: dict[str, list[str]] | None = None, status: int = 200) -> HTMLResponse:
        current = await service.get_dataset(session, actor, dataset_id)
        package = await service.package_dict_of(session, current)
        return render(request, "opendata/dataset_form.html", await _form_context(
            session, actor, form, mode="edit", dataset=current, package=package, errors=errors), status_code=status)

    if intent == "refresh":
        return await again()
    state = {"publish": "active", "draft": "draft"}.get(intent)
    try:
        updated = await service.package_update(session, actor, {**_package_from(form, state=state), "id": dataset_id})
        new_name = updated.name
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return await again({"name": [gettext(N_("That URL is already in use."))]}, 409)
    except (DatasetInvalid, ValidationFailed) as error:
        await session.rollback()
        return await again(_invalid(error), error.status_code)
    return see_other(f"/dataset/{new_name}?done=saved")


@router.get("/dataset/{name}/delete")
async def delete_dataset_form(request: Request, name: str, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """Ask the publisher to confirm the deletion."""
    actor = await _actor(session, caller)
    dataset = await _own_dataset(session, actor, name)
    return render(request, "opendata/confirm_delete.html", {
        "kind": "dataset", "action": f"/dataset/{dataset.name}/delete", "back": f"/dataset/{dataset.name}",
        "title": dataset.title,
    })


@router.post("/dataset/{name}/delete")
async def delete_dataset(request: Request, name: str, session: SessionDep, caller: SignedIn) -> Response:
    """Delete the dataset: hidden from everyone and out of search, its history kept."""
    actor = await _actor(session, caller)
    dataset = await _own_dataset(session, actor, name)
    organization = dataset.organization.name
    await service.package_delete(session, actor, dataset.id)
    return see_other(f"/organization/{organization}?done=deleted")


# ---------------------------------------------------------------- resources

async def _spool(upload: UploadFile) -> Path:
    """Copy an uploaded file to a named temporary file (the checks and the storage read paths)."""
    fd, name = tempfile.mkstemp(prefix="govhub-resource-")

    def copy() -> None:
        with os.fdopen(fd, "wb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out, 1024 * 1024)

    await asyncio.to_thread(copy)
    return Path(name)


def _resource_form(posted: Any) -> dict[str, str]:
    return {name: (posted.get(name) or "").strip() if isinstance(posted.get(name), str) else ""
            for name in ("name", "description", "format", "url")}


def _resource_context(dataset: Dataset, form: dict[str, str], *, mode: str, resource: Any = None,
                      errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    errors = errors or {}
    labels = {**{name: gettext(label) for name, label in FIELD_LABELS.items()},
              **{name: gettext(label) for name, label in RESOURCE_FIELD_LABELS.items()}}
    summary = [{"field": name, "label": labels.get(name, name), "message": message,
                "anchor": name if name in ("name", "description", "format", "url", "upload") else "resource-form"}
               for name, messages in errors.items() for message in messages]
    return {"dataset": dataset, "dataset_title": dataset.title_en if _locale() == "en" and dataset.title_en
            else dataset.title, "form": form, "mode": mode, "resource": resource, "errors": errors,
            "summary": summary, "formats": RESOURCE_FORMATS, "labels": labels}


@router.get("/dataset/{name}/resource/new")
async def new_resource_form(request: Request, name: str, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """The form to upload a file or give a link."""
    actor = await _actor(session, caller)
    dataset = await _own_dataset(session, actor, name)
    return render(request, "opendata/resource_form.html", _resource_context(
        dataset, {"name": "", "description": "", "format": "", "url": ""}, mode="new"))


async def _save_resource(request: Request, session: SessionDep, actor: service.Actor, dataset: Dataset, *,
                         resource_id: str | None) -> Response:
    dataset_id, dataset_name = dataset.id, dataset.name
    posted = await request.form(max_files=1, max_fields=20)
    form = _resource_form(posted)
    upload = posted.get("upload")
    upload = upload if isinstance(upload, UploadFile) and upload.filename else None
    spooled: Path | None = None
    mode = "edit" if resource_id else "new"
    try:
        if resource_id is None and upload is None and not form["url"]:
            raise ValidationFailed(N_("Choose a file to upload, or give a link to the data."), field="upload")
        if upload is not None and form["url"]:
            raise ValidationFailed(N_("Upload a file or give a link, not both."), field="upload")
        file = None
        if upload is not None:
            spooled = await _spool(upload)
            file = resources.Upload(spooled, upload.filename or "")
        data: dict[str, Any] = {"name": form["name"], "description": form["description"]}
        # An empty format keeps the current one (or, for a file, takes what its content is); a
        # new file is typed by its content, not by the old file's format still in the form.
        current = posted.get("current_format")
        current = current.upper() if isinstance(current, str) else ""
        if form["format"] and not (file is not None and resource_id is not None and form["format"].upper() == current):
            data["format"] = form["format"]
        if form["url"]:
            data["url"] = form["url"]
        if resource_id is None:
            await resources.resource_create(session, actor, {**data, "package_id": dataset_id}, file)
        else:
            await resources.resource_update(session, actor, {**data, "id": resource_id}, file)
        await session.flush()
    except (DatasetInvalid, ValidationFailed) as error:
        await session.rollback()
        current = await service.get_dataset(session, actor, dataset_id)
        resource = None
        if resource_id is not None:
            resource, _ = await service.get_resource(session, actor, resource_id)
        return render(request, "opendata/resource_form.html", _resource_context(
            current, form, mode=mode, resource=resource, errors=_invalid(error)), status_code=error.status_code)
    finally:
        if spooled is not None:
            spooled.unlink(missing_ok=True)
    return see_other(f"/dataset/{dataset_name}?done={'resource-saved' if resource_id else 'resource-added'}#resources")


@router.post("/dataset/{name}/resource/new")
async def create_resource(request: Request, name: str, session: SessionDep, caller: SignedIn) -> Response:
    """Add an uploaded file (checked by its content) or a link to the dataset."""
    actor = await _actor(session, caller)
    dataset = await _own_dataset(session, actor, name)
    return await _save_resource(request, session, actor, dataset, resource_id=None)


async def _own_resource(session: SessionDep, actor: service.Actor, name: str, resource_id: str) -> tuple[Any, Dataset]:
    dataset = await _own_dataset(session, actor, name)
    resource, owner = await service.get_resource(session, actor, resource_id)
    if owner.id != dataset.id:
        raise service.ResourceNotFound()
    return resource, dataset


@router.get("/dataset/{name}/resource/{resource_id}/edit")
async def edit_resource_form(request: Request, name: str, resource_id: str, session: SessionDep,
                             caller: SignedIn) -> HTMLResponse:
    """The resource's name, description and format, and a new file or link."""
    actor = await _actor(session, caller)
    resource, dataset = await _own_resource(session, actor, name, resource_id)
    form = {"name": resource.name, "description": resource.description, "format": resource.format,
            "url": resource.url if resource.url_type != "upload" else ""}
    return render(request, "opendata/resource_form.html", _resource_context(dataset, form, mode="edit",
                                                                           resource=resource))


@router.post("/dataset/{name}/resource/{resource_id}/edit")
async def update_resource(request: Request, name: str, resource_id: str, session: SessionDep,
                          caller: SignedIn) -> Response:
    """Save the resource (a new file replaces the old one; the history keeps both)."""
    actor = await _actor(session, caller)
    _resource, dataset = await _own_resource(session, actor, name, resource_id)
    return await _save_resource(request, session, actor, dataset, resource_id=resource_id)


@router.get("/dataset/{name}/resource/{resource_id}/delete")
async def delete_resource_form(request: Request, name: str, resource_id: str, session: SessionDep,
                               caller: SignedIn) -> HTMLResponse:
    """Ask the publisher to confirm removing the resource."""
    actor = await _actor(session, caller)
    resource, dataset = await _own_resource(session, actor, name, resource_id)
    return render(request, "opendata/confirm_delete.html", {
        "kind": "resource", "action": f"/dataset/{dataset.name}/resource/{resource.id}/delete",
        "back": f"/dataset/{dataset.name}#resources", "title": resource.name or resource.format or resource.id,
    })


@router.post("/dataset/{name}/resource/{resource_id}/delete")
async def delete_resource(request: Request, name: str, resource_id: str, session: SessionDep,
                          caller: SignedIn) -> Response:
    """Remove the resource from the dataset (and its datastore table)."""
    actor = await _actor(session, caller)
    resource, dataset = await _own_resource(session, actor, name, resource_id)
    dataset_name = dataset.name
    await resources.resource_delete(session, actor, resource.id)
    return see_other(f"/dataset/{dataset_name}?done=resource-deleted#resources")


# ---------------------------------------------------------------- the dataset page

def _labels(vocabulary: vocab.Vocabulary, codes: list[str]) -> list[str]:
    return [vocabulary.label(code) for code in codes]


def _frequency(package: dict[str, Any]) -> str:
    unit = package.get("update_frequency_unit") or ""
    label = vocab.UPDATE_FREQUENCIES.label(unit)
    interval = package.get("update_frequency_interval")
    if interval and int(interval) > 1 and unit in vocab.FREQUENCY_DAYS:
        return gettext(N_("%(frequency)s, every %(interval)s"), frequency=label, interval=interval)
    return label


def _yes_no(value: Any) -> str:
    return gettext(N_("Yes")) if value else gettext(N_("No"))


def gdc_rows(package: dict[str, Any]) -> list[tuple[str, str | list[str]]]:
    """The GDC metadata as (label, value) rows in the reader's language; empty values left out."""
    locale = _locale()
    rows: list[tuple[str, str | list[str]]] = [
        (_field_label("data_type"), vocab.DATASET_TYPES.label(package["data_type"])),
        (_field_label("objective"), _labels(vocab.OBJECTIVES, package["objective"])),
        (_field_label("update_frequency_unit"), _frequency(package)),
        (_field_label("geo_coverage"), vocab.GEO_COVERAGES.label(package["geo_coverage"])),
        (_field_label("data_source"), package["data_source"]),
        (_field_label("data_format"), _labels(vocab.STORAGE_FORMATS, package["data_format"])),
        (_field_label("data_category"), vocab.DATA_CATEGORIES.label(package["data_category"])),
        (_field_label("data_classification"), vocab.CLASSIFICATIONS.label(package["data_classification"])),
        (_field_label("data_language"), _labels(vocab.LANGUAGES, package["data_language"])),
        (_field_label("high_value_dataset"), _yes_no(package["high_value_dataset"])),
        (_field_label("reference_data"), _yes_no(package["reference_data"])),
        (_field_label("created_date"), format_day(package["created_date"], locale)),
        (_field_label("last_updated_date"), format_day(package["last_updated_date"], locale)),
        (_field_label("maintainer"), package["maintainer"]),
        (_field_label("maintainer_email"), package["maintainer_email"]),
        (_field_label("metadata_created"), format_datetime(_aware(package["metadata_created"]), locale)),
        (_field_label("metadata_modified"), format_datetime(_aware(package["metadata_modified"]), locale)),
    ]
    for name, (kind, _bounds) in ALL_TYPE_FIELDS.items():
        if name in package and package[name] not in (None, ""):
            value = package[name]
            rows.append((_field_label(name), _yes_no(value) if kind == "bool" else str(value)))
    return [(label, value) for label, value in rows if value not in ("", [], None)]


def _aware(value: str | None) -> Any:
    from datetime import UTC, datetime

    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _preview_filters(request: Request, fields: list[dict[str, str]]) -> dict[str, str]:
    names = {field["id"] for field in fields}
    filters = {}
    for key, value in request.query_params.items():
        if key.startswith("f.") and key[2:] in names and value.strip():
            filters[key[2:]] = value.strip()[:200]
    return filters


async def _preview(request: Request, package: dict[str, Any]) -> dict[str, Any] | None:
    """The datastore preview of one tabular resource: a page of rows, searched and filtered."""
    active = [resource for resource in package["resources"] if resource.get("datastore_active")]
    if not active:
        return None
    chosen = request.query_params.get("preview", "")
    resource = next((r for r in active if r["id"] == chosen), active[0])
    from govhub.opendata import datastore

    try:
        table = await datastore.live_table(resource["id"])
    except NotFound:
        return None
    fields = [field for field in table.fields if field["id"] != "_id"]
    filters = _preview_filters(request, fields)
    text = request.query_params.get("pq", "").strip()[:200]
    page = _page_number(request.query_params.get("ppage", "1"))
    error, records, total = None, [], 0
    for _attempt in range(2):
        try:
            result = await datastore.datastore_search(
                resource_id=resource["id"], filters=filters or None, q=text or None, limit=PREVIEW_ROWS,
                offset=(page - 1) * PREVIEW_ROWS)
        except ValidationFailed as problem:  # a filter value the column's type cannot hold
            error = problem.translated()
            break
        except NotFound:
            return None
        records, total = result["records"], int(result.get("total") or 0)
        last = max(1, -(-total // PREVIEW_ROWS))
        if page <= last:
            break
        page = last  # past the end: show the last page
    pages = max(1, -(-total // PREVIEW_ROWS))
    base = f"/dataset/{package['name']}"
    state = [("preview", resource["id"])] + ([("pq", text)] if text else []) + \
        [(f"f.{name}", value) for name, value in filters.items()]

    def page_url(number: int) -> str:
        return _url(base, state + ([("ppage", str(number))] if number > 1 else [])) + "#preview"

    return {
        "resource": resource, "resources": active, "fields": fields, "records": records, "total": total,
        "page": page, "pages": pages, "filters": filters, "q": text, "error": error,
        "first_row": (page - 1) * PREVIEW_ROWS + 1, "base": base,
        "previous_url": page_url(page - 1) if page > 1 else None,
        "next_url": page_url(page + 1) if page < pages else None,
    }


def _schema_org(package: dict[str, Any]) -> Any:
    """schema.org Dataset JSON-LD for the page's head (search engines' dataset search)."""
    if package["private"] or package["state"] != "active":
        return None
    from govhub.opendata import dcat

    return dcat.schema_org_script(package, get_settings().public_url)


@router.get("/dataset/{name}")
async def dataset_page(request: Request, name: str, session: SessionDep, caller: PublicCaller,
                       done: str = "") -> HTMLResponse:
    """A dataset: its description, GDC metadata, resources, a preview of its data, and its exports."""
    actor = await _actor(session, caller)
    dataset = await service.get_dataset(session, actor, name)
    package = await service.package_dict_of(session, dataset)
    preview = await _preview(request, package)
    if _htmx_target(request) == "preview" and preview is not None:
        return render(request, "opendata/_preview.html", {"package": package, "preview": preview})
    publisher = actor.may_publish(dataset.organization_id)
    groups = await repository.groups_by_ids(session, [link.group_id for link in dataset.group_links])
    reachability = {resource.id: resource for resource in dataset.resources}
    load_states: dict[str, Any] = {}
    if publisher:
        from govhub.opendata import datastore

        for resource in dataset.resources:
            if resource.url_type == "upload" and resource.format in resources.TABULAR_FORMATS:
                load_states[resource.id] = await datastore.load_status(resource.id)
    licence = vocab.LICENSES_BY_ID.get(package["license_id"])
    return render(request, "opendata/dataset.html", {
        "package": package, "dataset": dataset, "title": _dataset_title(package),
        "organization": dataset.organization, "groups": groups, "rows": gdc_rows(package),
        "licence": licence, "licence_title": _licence_title(package["license_id"]),
        "preview": preview, "publisher": publisher, "reachability": reachability, "load_states": load_states,
        "quality": quality.quality_of(package, dataset) if publisher else None,
        "schema_org": _schema_org(package), "filesize": filesize, "done": _done(done),
        "paragraphs": [part.strip() for part in (package["notes"] or "").split("\n\n") if part.strip()],
    })


# ---------------------------------------------------------------- history

def _display(field: str, value: Any) -> str:
    """A changed field's value as text for the history page."""
    if value in (None, "", [], {}):
        return "—"
    coded = {"data_type": vocab.DATASET_TYPES, "update_frequency_unit": vocab.UPDATE_FREQUENCIES,
             "geo_coverage": vocab.GEO_COVERAGES, "data_category": vocab.DATA_CATEGORIES,
             "data_classification": vocab.CLASSIFICATIONS}
    listed = {"objective": vocab.OBJECTIVES, "data_format": vocab.STORAGE_FORMATS, "data_language": vocab.LANGUAGES}
    if field in coded:
        return coded[field].label(str(value))
    if field in listed and isinstance(value, list):
        return ", ".join(listed[field].label(str(code)) for code in value)
    if field == "license_id":
        return _licence_title(str(value))
    if isinstance(value, bool):
        return _yes_no(value)
    if field in ("tags", "groups") and isinstance(value, list):
        return ", ".join(str(item.get("display_name") or item.get("name")) if isinstance(item, dict) else str(item)
                         for item in value)
    if field == "resources" and isinstance(value, list):
        return ", ".join(f"{item.get('name') or item.get('id')} ({item.get('format') or '?'})"
                         if isinstance(item, dict) else str(item) for item in value)
    if field in ("created_date", "last_updated_date"):
        return format_day(str(value), _locale())
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {item}" for key, item in value.items())
    text = str(value)
    return text if len(text) <= 500 else text[:500] + "…"


@router.get("/dataset/{name}/history")
async def history_page(request: Request, name: str, session: SessionDep, caller: PublicCaller) -> HTMLResponse:
    """Every change to the dataset's metadata: who, when, and each field's old and new value."""
    actor = await _actor(session, caller)
    dataset = await service.get_dataset(session, actor, name)
    revisions = await service.history(session, actor, dataset.id)
    member = actor.may_read_private(dataset.organization_id)
    organization = dataset.organization.title(_locale())
    entries = [{
        "number": revision.number, "at": revision.at,
        "action": gettext(ACTION_LABELS.get(revision.action, revision.action)),
        # The organization answers for its data; its members also see which of them changed it.
        "who": (revision.actor_label or gettext(N_("the platform"))) if member else organization,
        "changes": [{"field": _field_label(field), "old": _display(field, pair[0]), "new": _display(field, pair[1])}
                    for field, pair in sorted(revision.changes.items())
                    if isinstance(pair, list) and len(pair) == 2],
    } for revision in revisions]
    return render(request, "opendata/history.html", {
        "dataset": dataset, "title": dataset.title_en if _locale() == "en" and dataset.title_en else dataset.title,
        "entries": entries, "now": utcnow(),
    })
