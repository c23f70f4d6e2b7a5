"""GDX routes: the X-Road style call, the Information Mediator directory, consent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from govhub.db import SessionDep
from govhub.exchange import gateway, repository
from govhub.exchange import service as exchange_service
from govhub.exchange.models import AccessRequestStatus, Consent, ExchangeService, Subsystem
from govhub.identity.auth import ClientToken, MachineCaller, SignedIn, require_client_scope, require_client_token
from govhub.kit.clock import utcnow
from govhub.kit.errors import Forbidden, NotFound
from govhub.kit.i18n import N_

router = APIRouter(tags=["exchange"])
GdxClient = Annotated[MachineCaller, Depends(require_client_scope("gdx"))]
# The call itself checks that the client is active in its one query (gateway.begin).
GdxCallClient = Annotated[ClientToken, Depends(require_client_token("gdx"))]
R1 = "/gdx/r1/{instance}/{member_class}/{member_code}/{subsystem_code}"
CALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _service_entry(service: Any, provider_path: str) -> dict[str, Any]:
    instance, member_class, member_code, subsystem_code = provider_path.split("/")
    return {
        "object_type": "SERVICE",
        "xroad_instance": instance,
        "member_class": member_class,
        "member_code": member_code,
        "subsystem_code": subsystem_code,
        "service_code": service.code,
        "title": {"th": service.title_th, "en": service.title_en},
        "classification": service.classification.value,
        "access_policy": service.access_policy.value,
        "requires_consent": service.requires_consent,
        "personal_fields": service.personal_fields,
    }


@router.get("/gdx/listClients")
async def list_clients(session: SessionDep, caller: GdxClient) -> dict[str, Any]:
    """Every member subsystem on the exchange (Information Mediator listClients)."""
    members = []
    for subsystem in await repository.list_subsystems(session):
        instance, member_class, member_code, code = subsystem.client_path.split("/")
        members.append({"id": {
            "object_type": "SUBSYSTEM", "xroad_instance": instance, "member_class": member_class,
            "member_code": member_code, "subsystem_code": code,
        }, "name": subsystem.name})
    return {"member": members}


async def _provider(session: SessionDep, instance: str, member_class: str, member_code: str, subsystem_code: str):  # type: ignore[no-untyped-def]
    path = f"{instance}/{member_class}/{member_code}/{subsystem_code}"
    provider = await repository.subsystem_by_path(session, path)
    if provider is None:
        raise NotFound()
    return provider, path


@router.get(R1 + "/listMethods")
async def list_methods(
    instance: str, member_class: str, member_code: str, subsystem_code: str, session: SessionDep, caller: GdxClient
) -> dict[str, Any]:
    """The provider subsystem's services."""
    provider, path = await _provider(session, instance, member_class, member_code, subsystem_code)
    return {"service": [_service_entry(s, path) for s in await repository.services_of(session, provider)]}


@router.get(R1 + "/allowedMethods")
async def allowed_methods(
    instance: str, member_class: str, member_code: str, subsystem_code: str, session: SessionDep, caller: GdxClient
) -> dict[str, Any]:
    """The provider's services this consumer may call now."""
    provider, path = await _provider(session, instance, member_class, member_code, subsystem_code)
    consumer = await repository.subsystem_by_client(session, caller.client_id)
    allowed = []
    for service in await repository.services_of(session, provider):
        if consumer is not None and await gateway.granted_fields(session, consumer, service) is not None:
            allowed.append(_service_entry(service, path))
    return {"service": allowed}


@router.get(R1 + "/getOpenAPI")
async def get_openapi(
    instance: str,
    member_class: str,
    member_code: str,
    subsystem_code: str,
    session: SessionDep,
    caller: GdxClient,
    service_code: Annotated[str, Query(alias="serviceCode")],
) -> dict[str, Any]:
    """The OpenAPI description of one of the provider's services."""
    provider, _path = await _provider(session, instance, member_class, member_code, subsystem_code)
    service = await repository.service_of(session, provider, service_code)
    if service is None or not service.is_active:
        raise NotFound()
    return service.openapi or {"openapi": "3.0.3", "info": {"title": service.title_en, "version": "1"}, "paths": {}}


# Not in govhub's own OpenAPI document: each service publishes its own (getOpenAPI), and one
# generic entry for five methods would only mislead generated clients.
@router.api_route(R1 + "/{service_code}", methods=CALL_METHODS, include_in_schema=False)
@router.api_route(R1 + "/{service_code}/{path:path}", methods=CALL_METHODS, include_in_schema=False)
async def call_service(
    request: Request,
    instance: str,
    member_class: str,
    member_code: str,
    subsystem_code: str,
    service_code: str,
    session: SessionDep,
    caller: GdxCallClient,
    path: str = "",
) -> Response:
    """Call a provider's service through the exchange (X-Road message protocol for REST)."""
    provider_path = f"{instance}/{member_class}/{member_code}/{subsystem_code}"
    call = await gateway.begin(request, caller, provider_path, service_code)
    return await gateway.handle(request, session, call, path)


# --- Consent, managed by the data subject (the portal pages call the same service) ---------

ConsentFor = SignedIn


class ConsentGive(BaseModel):
    """A person's consent to one consumer reading one service's fields about them."""

    provider: str = Field(examples=["TH/GOV/DOPA/civil-registry"], max_length=200)
    service_code: str = Field(examples=["person"], max_length=64)
    consumer: str = Field(examples=["TH/GOV/NBM/permits"], max_length=200)
    purpose: str = Field(min_length=1, max_length=500)
    fields: list[str] = Field(min_length=1, max_length=100)
    days: int = Field(default=30, ge=1, le=365)


class ConsentRead(BaseModel):
    """A consent and whether it is in force."""

    id: str
    provider: str
    service_code: str
    consumer: str
    purpose: str
    fields: list[str]
    given_at: datetime
    valid_until: datetime
    status: str


async def consent_view(session: SessionDep, consent: Consent) -> ConsentRead:
    """A consent with its provider, consumer and current status spelled out."""
    service = await session.get(ExchangeService, consent.service_id)
    provider = await session.get(Subsystem, service.provider_subsystem_id) if service else None
    consumer = await session.get(Subsystem, consent.consumer_subsystem_id)
    withdrawn = await repository.consent_withdrawn(session, consent.id)
    status = "withdrawn" if withdrawn else ("expired" if consent.valid_until <= utcnow() else "valid")
    return ConsentRead(
        id=consent.id, provider=provider.client_path if provider else "", service_code=service.code if service else "",
        consumer=consumer.client_path if consumer else "", purpose=consent.purpose, fields=consent.fields,
        given_at=consent.given_at, valid_until=consent.valid_until, status=status,
    )


@router.post("/api/v1/gdx/consents", response_model=ConsentRead, status_code=201)
async def give_consent(body: ConsentGive, session: SessionDep, caller: ConsentFor) -> ConsentRead:
    """Give consent for a consumer to read the named fields about me, for a purpose."""
    provider = await repository.subsystem_by_path(session, body.provider)
    service = await repository.service_of(session, provider, body.service_code) if provider else None
    consumer = await repository.subsystem_by_path(session, body.consumer)
    if service is None or consumer is None:
        raise NotFound()
    consent = await exchange_service.give_consent(
        session, account=caller.account, service=service, consumer=consumer, purpose=body.purpose,
        fields=body.fields, days=body.days,
    )
    return await consent_view(session, consent)


@router.get("/api/v1/gdx/consents", response_model=list[ConsentRead])
async def list_my_consents(session: SessionDep, caller: ConsentFor) -> list[ConsentRead]:
    """My consents, newest first, with their status."""
    return [await consent_view(session, c) for c in await repository.consents_of(session, caller.account.id)]


@router.post("/api/v1/gdx/consents/{consent_id}/withdraw", response_model=ConsentRead)
async def withdraw_consent(consent_id: str, session: SessionDep, caller: ConsentFor) -> ConsentRead:
    """Withdraw one of my consents; calls relying on it are refused from now on."""
    await exchange_service.withdraw_consent(session, account=caller.account, consent_id=consent_id)
    consent = await session.get(Consent, consent_id)
    return await consent_view(session, consent)  # type: ignore[arg-type]


# --- Officers: the catalog, access requests and decisions ---------------------------------

def officer_agencies(caller: Any) -> list[str]:
    """The agencies an officer (or an administrator, all of them) acts for."""
    return list(caller.agency_roles)


class ServiceRead(BaseModel):
    """A catalog entry: what a service returns, how sensitive it is, and who may call it."""

    provider: str
    service_code: str
    title_th: str
    title_en: str
    classification: str
    access_policy: str
    requires_consent: bool
    returned_fields: list[str]
    personal_fields: list[str]


def service_read(service: ExchangeService, provider: Subsystem) -> ServiceRead:
    """The catalog view of a service."""
    return ServiceRead(
        provider=provider.client_path, service_code=service.code, title_th=service.title_th, title_en=service.title_en,
        classification=service.classification.value, access_policy=service.access_policy.value,
        requires_consent=service.requires_consent, returned_fields=service.returned_fields,
        personal_fields=service.personal_fields,
    )


@router.get("/api/v1/gdx/services", response_model=list[ServiceRead])
async def list_catalog(session: SessionDep, caller: SignedIn, q: Annotated[str, Query(max_length=100)] = "") -> list[ServiceRead]:
    """The data catalog of exchange services (officers and administrators)."""
    if not (caller.is_officer or caller.is_admin):
        raise Forbidden()
    return [service_read(s, p) for s, p in await repository.catalog(session, search=q.strip())]


class AccessRequestCreate(BaseModel):
    """An officer asks, for one of their agency's systems, to use a service."""

    provider: str = Field(max_length=200)
    service_code: str = Field(max_length=64)
    consumer: str = Field(max_length=200)
    purpose: str = Field(min_length=1, max_length=2000)
    legal_basis: str = Field(min_length=1, max_length=2000)


class AccessDecisionCreate(BaseModel):
    """The provider's decision; an approval may be limited to fields and a date."""

    decision: AccessRequestStatus
    reason: str = Field(default="", max_length=2000)
    allowed_fields: list[str] | None = None
    valid_until: datetime | None = None


class AccessRequestRead(BaseModel):
    """An access request and where it stands."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    service_id: str
    consumer_subsystem_id: str
    purpose: str
    legal_basis: str
    status: AccessRequestStatus
    allowed_fields: list[str] | None
    valid_until: datetime | None
    requested_at: datetime


async def _owned_subsystem(session: SessionDep, caller: Any, path: str) -> Subsystem:
    subsystem = await repository.subsystem_by_path(session, path)
    if subsystem is None:
        raise NotFound()
    await exchange_service.ensure_acts_for(session, caller=caller, subsystem=subsystem)
    return subsystem


@router.post("/api/v1/gdx/access-requests", response_model=AccessRequestRead, status_code=201)
async def create_access_request(body: AccessRequestCreate, session: SessionDep, caller: SignedIn) -> AccessRequestRead:
    """Ask for access to a service for one of my agency's systems, with purpose and legal basis."""
    consumer = await _owned_subsystem(session, caller, body.consumer)
    provider = await repository.subsystem_by_path(session, body.provider)
    service = await repository.service_of(session, provider, body.service_code) if provider else None
    if service is None:
        raise NotFound()
    request = await exchange_service.request_access(
        session, service=service, consumer=consumer, purpose=body.purpose, legal_basis=body.legal_basis,
        requested_by=caller.account.id,
    )
    return AccessRequestRead.model_validate(request)


@router.get("/api/v1/gdx/access-requests", response_model=list[AccessRequestRead])
async def list_access_requests(session: SessionDep, caller: SignedIn) -> list[AccessRequestRead]:
    """Requests where my agency is the consumer or the provider."""
    ids = [s.id for s in await repository.subsystems_of_agencies(session, officer_agencies(caller))]
    return [AccessRequestRead.model_validate(r) for r in await repository.requests_for_agencies(session, ids)]


@router.post("/api/v1/gdx/access-requests/{request_id}/decision", response_model=AccessRequestRead)
async def decide_access_request(
    request_id: str, body: AccessDecisionCreate, session: SessionDep, caller: SignedIn
) -> AccessRequestRead:
    """The provider's data steward or agency administrator approves, rejects or revokes."""
    decided = await exchange_service.decide_access_request(
        session, caller=caller, request_id=request_id, decision=body.decision, reason=body.reason,
        allowed_fields=body.allowed_fields, valid_until=body.valid_until,
    )
    return AccessRequestRead.model_validate(decided)
