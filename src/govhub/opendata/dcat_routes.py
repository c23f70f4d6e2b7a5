"""DCAT-AP exports: the paged catalog and each dataset in JSON-LD, Turtle and RDF/XML.

These routes are included before the dataset pages, so `/dataset/{name}.ttl` is answered
here rather than read as a dataset named "x.ttl". The catalog lists public active datasets
only; a dataset's own export follows package_show's visibility (404 for what the caller
may not see).
"""

from __future__ import annotations

import asyncio

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.db import SessionDep
from govhub.identity.auth import Anyone, PublicCaller
from govhub.kit.errors import AppError
from govhub.kit.i18n import N_
from govhub.opendata import dcat, repository, service
from govhub.opendata.models import Dataset, DatasetState

router = APIRouter()

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class BadCatalogQuery(AppError):
    """A catalog page or date that cannot be answered."""

    status_code = 400
    code = "bad_request"
    message = N_("The page must be a whole number from 1 to the last page.")


BAD_PAGE_SIZE = N_("The page size must be a whole number from 1 to 1000.")
BAD_SINCE = N_("modified_since must be a date or a date and time, such as 2024-01-31 or 2024-01-31T08:00:00Z.")


def _positive(value: str | None, *, default: int, maximum: int, message: str | None = None) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= maximum:
        raise BadCatalogQuery(message) if message else BadCatalogQuery()
    return number


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value.strip()), datetime.min.time())
        except ValueError:
            raise BadCatalogQuery(BAD_SINCE) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def catalog_page(session: AsyncSession, *, page: int, page_size: int,
                       modified_since: datetime | None) -> tuple[list[dict[str, Any]], int, datetime | None]:
    """One page of public active datasets (newest change first) as package dicts, the total and the last change."""
    conditions = [Dataset.state == DatasetState.ACTIVE, Dataset.private.is_(False)]
    if modified_since is not None:
        conditions.append(Dataset.metadata_modified >= modified_since)
    total, modified = (await session.execute(
        select(func.count(), func.max(Dataset.metadata_modified)).select_from(Dataset).where(*conditions))).one()
    if page > 1 and (page - 1) * page_size >= total:
        raise BadCatalogQuery()
    # Organization is joined and resources, tags and group links are loaded with one
    # SELECT ... IN per relationship for the whole page; groups in one more query.
    statement = (select(Dataset).where(*conditions).order_by(Dataset.metadata_modified.desc(), Dataset.id)
                 .offset((page - 1) * page_size).limit(page_size))
    datasets = list((await session.execute(statement)).scalars())
    group_ids = sorted({link.group_id for dataset in datasets for link in dataset.group_links})
    groups = {group.id: group for group in await repository.groups_by_ids(session, group_ids)}
    packages = []
    for dataset in datasets:
        own = sorted((groups[link.group_id] for link in dataset.group_links if link.group_id in groups),
                     key=lambda group: group.name)
        packages.append(service.package_dict(dataset, own))
    if isinstance(modified, datetime) and modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    return packages, int(total), modified


async def _rdf_response(graph: Any, fmt: str, *, alternates: str) -> Response:
    # rdflib's writers are pure Python: a catalog page takes long enough to stall the event loop.
    data, media_type = await asyncio.to_thread(dcat.serialize, graph, fmt)
    links = ", ".join(f'<{alternates}.{suffix}>; rel="alternate"; type="{dcat.MEDIA_TYPES[kind]}"'
                      for suffix, kind in dcat.SUFFIXES.items() if kind != fmt)
    return Response(content=data, media_type=media_type, headers={"Link": links})


async def _catalog(session: AsyncSession, fmt: str, suffix: str, page: str | None, page_size: str | None,
                   modified_since: str | None) -> Response:
    number = _positive(page, default=1, maximum=10**9)
    size = _positive(page_size, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE, message=BAD_PAGE_SIZE)
    since = _since(modified_since)
    packages, total, modified = await catalog_page(session, page=number, page_size=size, modified_since=since)
    base_url = get_settings().public_url

    def page_url(target: int) -> str:
        query: dict[str, str | int] = {"page": target}
        if size != DEFAULT_PAGE_SIZE:
            query["page_size"] = size
        if modified_since:
            query["modified_since"] = modified_since
        return f"{base_url}/catalog.{suffix}?{urlencode(query)}"

    graph = await asyncio.to_thread(dcat.catalog_graph, packages, page=number, page_size=size, total=total,
                                    base_url=base_url, page_url=page_url, modified=modified)
    return await _rdf_response(graph, fmt, alternates=f"{base_url}/catalog")


@router.get("/catalog.jsonld", response_class=Response)
async def catalog_jsonld(session: SessionDep, _: Anyone, page: str | None = None, page_size: str | None = None,
                         modified_since: str | None = None) -> Response:
    """The catalog as DCAT-AP JSON-LD, 100 datasets a page, with Hydra paging links."""
    return await _catalog(session, "json-ld", "jsonld", page, page_size, modified_since)


@router.get("/catalog.ttl", response_class=Response)
async def catalog_turtle(session: SessionDep, _: Anyone, page: str | None = None, page_size: str | None = None,
                         modified_since: str | None = None) -> Response:
    """The catalog as DCAT-AP Turtle, 100 datasets a page, with Hydra paging links."""
    return await _catalog(session, "turtle", "ttl", page, page_size, modified_since)


@router.get("/catalog.rdf", response_class=Response)
async def catalog_rdfxml(session: SessionDep, _: Anyone, page: str | None = None, page_size: str | None = None,
                         modified_since: str | None = None) -> Response:
    """The catalog as DCAT-AP RDF/XML, 100 datasets a page, with Hydra paging links."""
    return await _catalog(session, "xml", "rdf", page, page_size, modified_since)


async def _dataset(session: AsyncSession, caller: Any, name: str, fmt: str) -> Response:
    actor = await service.actor_for(session, caller)
    package = await service.package_show(session, actor, name)
    base_url = get_settings().public_url
    return await _rdf_response(dcat.dataset_graph(package, base_url), fmt,
                         alternates=f"{base_url}/dataset/{package['name']}")


@router.get("/dataset/{name}.jsonld", response_class=Response)
async def dataset_jsonld(name: str, session: SessionDep, caller: PublicCaller) -> Response:
    """One dataset as DCAT-AP JSON-LD."""
    return await _dataset(session, caller, name, "json-ld")


@router.get("/dataset/{name}.ttl", response_class=Response)
async def dataset_turtle(name: str, session: SessionDep, caller: PublicCaller) -> Response:
    """One dataset as DCAT-AP Turtle."""
    return await _dataset(session, caller, name, "turtle")


@router.get("/dataset/{name}.rdf", response_class=Response)
async def dataset_rdfxml(name: str, session: SessionDep, caller: PublicCaller) -> Response:
    """One dataset as DCAT-AP RDF/XML."""
    return await _dataset(session, caller, name, "xml")


@router.get("/ns/gdc", response_class=Response)
async def gdc_vocabulary(_: Anyone) -> Response:
    """The gdc: namespace: the GDC fields that DCAT has no term for, labelled in Thai and English."""
    data, media_type = dcat.serialize(dcat.gdc_vocabulary_graph(get_settings().public_url), "turtle")
    return Response(content=data, media_type=media_type)
