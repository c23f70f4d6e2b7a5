"""Officers' JSON API to publish and change exchange services (cookie session and CSRF token).

The same service functions and the same rule on who may act as the officers' pages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from govhub.db import SessionDep
from govhub.exchange import repository
from govhub.exchange import service as exchange_service
from govhub.exchange.models import AccessPolicy, DataClassification, ExchangeService, Subsystem
from govhub.exchange.service import ServiceEdit
from govhub.identity.auth import SignedIn
from govhub.kit.errors import NotFound

router = APIRouter(tags=["exchange"])

FieldNames = list[str]


class ServicePublish(BaseModel):
    """A new exchange service of one of my agency's subsystems."""

    provider: str = Field(max_length=200, examples=["TH/GOV/DOPA/civil-registry"])
    code: str = Field(max_length=64, examples=["person"])
    title_th: str = Field(max_length=255)
    title_en: str = Field(max_length=255)
    description: str = Field(default="", max_length=5000)
    backend: Literal["registry", "remote"]
    registry_code: str | None = Field(default=None, max_length=64)
    registry_version: str | None = Field(default=None, max_length=16)
    key_parameter: str | None = Field(default=None, max_length=64)
    remote_url: str | None = Field(default=None, max_length=2000)
    timeout_ms: int = Field(default=5000, ge=exchange_service.TIMEOUT_MIN_MS, le=exchange_service.TIMEOUT_MAX_MS)
    returned_fields: FieldNames = Field(max_length=exchange_service.MAX_FIELDS)
    personal_fields: FieldNames = Field(default_factory=list, max_length=exchange_service.MAX_FIELDS)
    classification: DataClassification
    access_policy: AccessPolicy
    requires_consent: bool = False
    openapi: dict[str, Any] | None = None


class ServiceUpdate(BaseModel):
    """Changes to a service; what is left out stays as it is. The code and backend never change."""

    title_th: str | None = Field(default=None, max_length=255)
    title_en: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=5000)
    returned_fields: FieldNames | None = Field(default=None, max_length=exchange_service.MAX_FIELDS)
    personal_fields: FieldNames | None = Field(default=None, max_length=exchange_service.MAX_FIELDS)
    classification: DataClassification | None = None
    access_policy: AccessPolicy | None = None
    requires_consent: bool | None = None
    remote_url: str | None = Field(default=None, max_length=2000)
    timeout_ms: int | None = Field(default=None, ge=exchange_service.TIMEOUT_MIN_MS, le=exchange_service.TIMEOUT_MAX_MS)
    openapi: dict[str, Any] | None = None
    is_active: bool | None = None


class ServiceDetail(BaseModel):
    """A service as its provider's officers see it."""

    id: str
    provider: str
    code: str
    title_th: str
    title_en: str
    description: str
    backend: str
    registry_code: str | None
    registry_version: str | None
    key_parameter: str | None
    remote_url: str | None
    timeout_ms: int
    returned_fields: list[str]
    personal_fields: list[str]
    classification: DataClassification
    access_policy: AccessPolicy
    requires_consent: bool
    has_openapi: bool
    is_active: bool
    created_at: datetime


def service_detail(service: ExchangeService, provider: Subsystem) -> ServiceDetail:
    """The officers' view of a service."""
    return ServiceDetail(
        id=service.id, provider=provider.client_path, code=service.code, title_th=service.title_th,
        title_en=service.title_en, description=service.description, backend=service.backend,
        registry_code=service.registry_code, registry_version=service.registry_version,
        key_parameter=service.key_parameter, remote_url=service.remote_url, timeout_ms=service.timeout_ms,
        returned_fields=service.returned_fields, personal_fields=service.personal_fields,
        classification=service.classification, access_policy=service.access_policy,
        requires_consent=service.requires_consent, has_openapi=bool(service.openapi), is_active=service.is_active,
        created_at=service.created_at,
    )


@router.post("/api/v1/gdx/services", response_model=ServiceDetail, status_code=201)
async def publish_service(body: ServicePublish, session: SessionDep, caller: SignedIn) -> ServiceDetail:
    """Publish a service for one of my agency's subsystems (agency administrators and data stewards)."""
    provider = await repository.subsystem_by_path(session, body.provider)
    if provider is None:
        raise NotFound()
    await exchange_service.authorize_service_change(session, caller=caller, provider=provider)
    values = body.model_dump(exclude={"provider"})
    service = await exchange_service.publish_service(session, provider=provider, actor_id=caller.account.id, **values)
    return service_detail(service, provider)


@router.patch("/api/v1/gdx/services/{service_id}", response_model=ServiceDetail)
async def update_service(service_id: str, body: ServiceUpdate, session: SessionDep, caller: SignedIn) -> ServiceDetail:
    """Change, deactivate or reactivate one of my agency's services; each change is audited."""
    service = await session.get(ExchangeService, service_id)
    provider = await session.get(Subsystem, service.provider_subsystem_id) if service else None
    if service is None or provider is None:
        raise NotFound()
    await exchange_service.authorize_service_change(session, caller=caller, provider=provider)
    edit = ServiceEdit(**body.model_dump(exclude_unset=True))
    await exchange_service.update_service(session, service=service, edit=edit, actor_id=caller.account.id)
    return service_detail(service, provider)
