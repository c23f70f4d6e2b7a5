"""The GovStack Registration building block's API under /registration (catalog part).

Services are the catalog's public services; each version of a service's manual is one
e-form (its id is the GovStack eFormId), so an e-form's schema never changes once published.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from govhub.db import SessionDep
from govhub.identity.auth import Anyone
from govhub.kit.errors import NotFound
from govhub.onestop import catalog, repository
from govhub.onestop.definitions import ServiceDefinition
from govhub.onestop.models import PublicService, ServiceManualVersion

router = APIRouter(tags=["registration"])
PREFIX = "/registration"


class Property(BaseModel):
    """A code and value pair (GovStack ListOfProperties)."""

    code: str
    value: str


class ServiceRead(BaseModel):
    """A public service (GovStack Registration `service`)."""

    id: str
    name: str
    version: str
    type: Literal["None", "Private", "Public"] = "Public"
    isExecutable: bool = True  # noqa: N815 - GovStack's field names
    isClosed: bool = False  # noqa: N815
    description: str = ""
    serviceBody: list[Property] = Field(default_factory=list)  # noqa: N815


class EFormListItem(BaseModel):
    """An e-form version of a service (GovStack Registration `EFormListItem`)."""

    eFormId: str  # noqa: N815
    name: str
    description: str
    version: str
    latest: bool


class EFormRead(EFormListItem):
    """An e-form with its JSON Schema (UI hints under `x-govhub-pages`)."""

    json_schema: dict[str, Any] = Field(alias="schema", serialization_alias="schema")


def _service_read(service: PublicService, definition: ServiceDefinition) -> ServiceRead:
    body = [
        Property(code="code", value=service.code),
        Property(code="agency", value=definition.agency),
        Property(code="title_th", value=definition.title.th),
        Property(code="title_en", value=definition.title.en),
        Property(code="time_limit_days", value=str(definition.time_limit_days)),
        Property(code="fee_total_satang", value=str(definition.fee_total_satang)),
        Property(code="audiences", value=",".join(service.audiences)),
        Property(code="business_types", value=",".join(service.business_types)),
    ]
    return ServiceRead(
        id=service.id, name=definition.title.en, version=str(service.current_version),
        description=definition.summary.en, serviceBody=body,
    )


def _eform_item(service: PublicService, version: ServiceManualVersion) -> dict[str, Any]:
    return {
        "eFormId": version.id, "name": f"{service.code} v{version.version}",
        "description": service.title_en, "version": str(version.version),
        "latest": version.version == service.current_version,
    }


async def _active_service(session: SessionDep, service_id: str) -> PublicService:
    service = await repository.service_by_id(session, service_id)
    if service is None or not service.is_active:
        raise NotFound()
    return service


@router.get(PREFIX + "/services", response_model=list[ServiceRead])
async def list_services(
    session: SessionDep, caller: Anyone, name: Annotated[str, Query(max_length=100)] = ""
) -> list[ServiceRead]:
    """The public services, optionally those whose name contains words (Thai or English)."""
    services, _total = await repository.search_services(session, words=catalog.search_words(name), limit=1000)
    versions = await repository.current_versions(session, services)
    return [
        _service_read(service, ServiceDefinition.model_validate(versions[service.id].definition))
        for service in services if service.id in versions
    ]


@router.get(PREFIX + "/services/{service_id}", response_model=ServiceRead)
async def get_service(service_id: str, session: SessionDep, caller: Anyone) -> ServiceRead:
    """One public service."""
    service = await _active_service(session, service_id)
    return _service_read(service, await catalog.current_definition(session, service))


@router.get(PREFIX + "/services/{service_id}/eForms", response_model=list[EFormListItem])
async def list_service_eforms(service_id: str, session: SessionDep, caller: Anyone) -> list[dict[str, Any]]:
    """Every e-form version of a service, the latest marked."""
    service = await _active_service(session, service_id)
    return [_eform_item(service, version) for version in await repository.versions_of(session, service.id)]


@router.get(PREFIX + "/eForms/{eform_id}", response_model=EFormRead, response_model_by_alias=True)
async def get_eform(eform_id: str, session: SessionDep, caller: Anyone) -> dict[str, Any]:
    """An e-form: its JSON Schema, with the pages, widgets and GDX prefill as UI hints."""
    version = await repository.version_by_id(session, eform_id)
    service = await repository.service_by_id(session, version.service_id) if version else None
    if version is None or service is None:
        raise NotFound()
    form = version.definition["form"]
    schema = {**form["schema"], "x-govhub-pages": form["pages"]}
    return {**_eform_item(service, version), "schema": schema}
