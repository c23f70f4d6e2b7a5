"""Officers' pages of the exchange: publish and change services, ask for and decide on access.

The pages call the same service functions as the JSON APIs (officer_api.py, api.py); who may
do what is decided there (exchange/service.py), once.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from govhub.db import SessionDep
from govhub.exchange import repository
from govhub.exchange import service as exchange_service
from govhub.exchange.models import (
    AccessPolicy,
    AccessRequest,
    AccessRequestStatus,
    DataClassification,
    ExchangeService,
    Subsystem,
)
from govhub.exchange.service import OPENAPI_MAX_BYTES, ServiceEdit
from govhub.identity.auth import Caller, SignedIn
from govhub.kit.clock import BANGKOK
from govhub.kit.errors import AppError, Forbidden, NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.web.forms import form_error, see_other
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)

# Form values are bounded generously here; the service gives the precise, translated limits.
TEXT = 2000
LONG_TEXT = 20_000
# The OpenAPI text may carry whitespace the stored JSON does not: allow it some room.
OPENAPI_TEXT = OPENAPI_MAX_BYTES * 2
_SEPARATORS = re.compile(r"[,\n\r]+")

POLICY_LABELS = {
    AccessPolicy.OPEN_TO_GOVERNMENT: N_("Open to government agencies"),
    AccessPolicy.APPROVAL_REQUIRED: N_("After the provider approves"),
}
STATUS_LABELS = {
    AccessRequestStatus.PENDING: N_("Waiting for a decision"),
    AccessRequestStatus.APPROVED: N_("Approved"),
    AccessRequestStatus.REJECTED: N_("Rejected"),
    AccessRequestStatus.REVOKED: N_("Revoked"),
}
# Classification names are translated in the templates, with a context ("Confidential" is
# also an OAuth client type): see _officer_macros.html.
LABELS = {"policies": POLICY_LABELS, "statuses": STATUS_LABELS}


def _officer(caller: Caller) -> None:
    if not caller.is_officer:
        raise Forbidden()


def split_fields(text: str) -> list[str]:
    """Field names typed one per line or separated by commas."""
    return exchange_service.clean_field_names(_SEPARATORS.split(text or ""))


def parse_openapi(text: str) -> dict[str, Any] | None:
    """The OpenAPI document pasted as JSON text: a JSON object, or nothing when left empty."""
    if not (text or "").strip():
        return None
    if len(text.encode()) > OPENAPI_TEXT:
        raise ValidationFailed(
            N_("The OpenAPI description can be up to %(max)s KB."), field="openapi", max=OPENAPI_MAX_BYTES // 1024
        )
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ValidationFailed(N_("The OpenAPI description must be a JSON object."), field="openapi")
    return document


def _timeout(text: str) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        raise ValidationFailed(
            N_("The timeout must be from %(min)s to %(max)s milliseconds."), field="timeout_ms",
            min=exchange_service.TIMEOUT_MIN_MS, max=exchange_service.TIMEOUT_MAX_MS,
        ) from None


def _choice(kind: type[Any], value: str, field: str, message: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ValidationFailed(message, field=field) from None


def _end_of_day(text: str) -> datetime | None:
    """A yyyy-mm-dd date as the end of that day in Bangkok (an approval lasts through it)."""
    if not (text or "").strip():
        return None
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ValidationFailed(N_("Enter the date as year-month-day, for example 2026-12-31."), field="valid_until") from None
    return datetime.combine(day, time(23, 59, 59), tzinfo=BANGKOK).astimezone(UTC)


def _openapi_text(service: ExchangeService) -> str:
    return json.dumps(service.openapi, ensure_ascii=False, indent=2) if service.openapi else ""


# --- My agency's services --------------------------------------------------------------------


@router.get("/gdx/services")
async def services_page(request: Request, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """My agency's subsystems and the services each publishes, with links to publish and edit."""
    _officer(caller)
    subsystems = await repository.subsystems_with_agency(session, list(caller.agency_roles))
    services = await repository.services_of_subsystems(session, [s.id for s, _ in subsystems])
    stewarded = set(exchange_service.steward_agencies(caller))
    groups = [
        (subsystem, agency_id in stewarded, [s for s in services if s.provider_subsystem_id == subsystem.id])
        for subsystem, agency_id in subsystems
    ]
    return render(request, "exchange/officer_services.html", {
        "groups": groups, "can_publish": any(manages for _, manages, _ in groups), **LABELS,
    })


async def _publish_context(session: SessionDep, caller: Caller, form: dict[str, Any] | None = None) -> dict[str, Any]:
    agencies = exchange_service.steward_agencies(caller)
    subsystems = [s for s, _ in await repository.subsystems_with_agency(session, agencies)]
    registries = await repository.hosted_registry_versions(session, agencies)
    defaults = {"backend": "remote", "timeout_ms": "5000", "classification": "internal",
                "access_policy": "approval_required"}
    return {
        "mode": "new", "subsystems": subsystems, "registries": registries, "form": form or defaults,
        "classification_choices": list(DataClassification), "policy_choices": list(AccessPolicy), **LABELS,
    }


@router.get("/gdx/services/new")
async def publish_form(request: Request, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """The form to publish a service for one of my agency's subsystems (stewards and agency admins)."""
    _officer(caller)
    context = await _publish_context(session, caller)
    if not context["subsystems"]:
        raise Forbidden(N_("Only the agency's administrators and data stewards can publish and change its services."))
    return render(request, "exchange/service_form.html", context)


@router.post("/gdx/services/new")
async def publish(
    request: Request,
    session: SessionDep,
    caller: SignedIn,
    subsystem_id: Annotated[str, Form(max_length=36)] = "",
    code: Annotated[str, Form(max_length=200)] = "",
    title_th: Annotated[str, Form(max_length=TEXT)] = "",
    title_en: Annotated[str, Form(max_length=TEXT)] = "",
    description: Annotated[str, Form(max_length=LONG_TEXT)] = "",
    backend: Annotated[str, Form(max_length=16)] = "",
    registry: Annotated[str, Form(max_length=200)] = "",
    key_parameter: Annotated[str, Form(max_length=200)] = "",
    remote_url: Annotated[str, Form(max_length=LONG_TEXT)] = "",
    timeout_ms: Annotated[str, Form(max_length=20)] = "5000",
    returned_fields: Annotated[str, Form(max_length=LONG_TEXT)] = "",
    personal_fields: Annotated[str, Form(max_length=LONG_TEXT)] = "",
    classification: Annotated[str, Form(max_length=32)] = "",
    access_policy: Annotated[str, Form(max_length=32)] = "",
    requires_consent: Annotated[str, Form(max_length=8)] = "",
    openapi: Annotated[str, Form(max_length=OPENAPI_TEXT)] = "",
) -> Response:
    """Publish a service; a mistake shows the form again with what was typed and changes nothing."""
    _officer(caller)
    form = {
        "subsystem_id": subsystem_id, "code": code, "title_th": title_th, "title_en": title_en,
        "description": description, "backend": backend, "registry": registry, "key_parameter": key_parameter,
        "remote_url": remote_url, "timeout_ms": timeout_ms, "returned_fields": returned_fields,
        "personal_fields": personal_fields, "classification": classification, "access_policy": access_policy,
        "requires_consent": requires_consent == "on", "openapi": openapi,
    }
    try:
        provider = await session.get(Subsystem, subsystem_id) if subsystem_id else None
        if provider is None:
            raise ValidationFailed(N_("Choose the system that provides the service."), field="subsystem_id")
        await exchange_service.authorize_service_change(session, caller=caller, provider=provider)
        registry_code, _, registry_version = registry.partition("@")
        await exchange_service.publish_service(
            session, provider=provider, code=code.strip(), title_th=title_th, title_en=title_en,
            description=description, backend=backend,
            registry_code=registry_code or None, registry_version=registry_version or None,
            key_parameter=key_parameter.strip() or None, remote_url=remote_url.strip() or None,
            timeout_ms=_timeout(timeout_ms) if backend == "remote" else 5000,
            returned_fields=split_fields(returned_fields), personal_fields=split_fields(personal_fields),
            classification=_choice(DataClassification, classification, "classification", N_("Choose a classification.")),
            access_policy=_choice(AccessPolicy, access_policy, "access_policy", N_("Choose who may call the service.")),
            requires_consent=requires_consent == "on", openapi=parse_openapi(openapi), actor_id=caller.account.id,
        )
    except AppError as error:
        return await form_error(
            request, session, "exchange/service_form.html", error, lambda: _publish_context(session, caller, form)
        )
    return see_other("/gdx/services?published=1")


async def _service_for_steward(session: SessionDep, caller: Caller, service_id: str) -> tuple[ExchangeService, Subsystem]:
    service = await session.get(ExchangeService, service_id)
    provider = await session.get(Subsystem, service.provider_subsystem_id) if service else None
    if service is None or provider is None:
        raise NotFound()
    await exchange_service.authorize_service_change(session, caller=caller, provider=provider)
    return service, provider


def _edit_form(service: ExchangeService) -> dict[str, Any]:
    return {
        "title_th": service.title_th, "title_en": service.title_en, "description": service.description,
        "returned_fields": "\n".join(service.returned_fields), "personal_fields": "\n".join(service.personal_fields),
        "classification": service.classification.value, "access_policy": service.access_policy.value,
        "requires_consent": service.requires_consent, "remote_url": service.remote_url or "",
        "timeout_ms": str(service.timeout_ms), "openapi": _openapi_text(service), "is_active": service.is_active,
    }


async def _edit_context(
    session: SessionDep, caller: Caller, service_id: str, form: dict[str, Any] | None = None
) -> dict[str, Any]:
    service, provider = await _service_for_steward(session, caller, service_id)
    return {
        "mode": "edit", "service": service, "provider": provider, "form": form or _edit_form(service),
        "classification_choices": list(DataClassification), "policy_choices": list(AccessPolicy), **LABELS,
    }


@router.get("/gdx/services/{service_id}/edit")
async def edit_form(request: Request, service_id: str, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """The form to change, deactivate or reactivate one of my agency's services."""
    _officer(caller)
    return render(request, "exchange/service_form.html", await _edit_context(session, caller, service_id))


@router.post("/gdx/services/{service_id}/edit")
async def edit(
    request: Request,
    service_id: str,
    session: SessionDep,
    caller: SignedIn,
    title_th: Annotated[str, Form(max_length=TEXT)] = "",
    title_en: Annotated[str, Form(max_length=TEXT)] = "",
    description: Annotated[str, Form(max_length=LONG_TEXT)] = "",
    remote_url: Annotated[str, Form(max_length=LONG_TEXT)] = "",
    timeout_ms: Annotated[str, Form(max_length=20)] = "",
    returned_fields: Annotated[str, Form(max_length=LONG_TEXT)] = "",
    personal_fields: Annotated[str, Form(max_length=LONG_TEXT)] = "",
    classification: Annotated[str, Form(max_length=32)] = "",
    access_policy: Annotated[str, Form(max_length=32)] = "",
    requires_consent: Annotated[str, Form(max_length=8)] = "",
    is_active: Annotated[str, Form(max_length=8)] = "",
    openapi: Annotated[str, Form(max_length=OPENAPI_TEXT)] = "",
) -> Response:
    """Save the changes (each one is written to the audit log) or show what is wrong."""
    _officer(caller)
    service, _provider = await _service_for_steward(session, caller, service_id)
    form = {
        "title_th": title_th, "title_en": title_en, "description": description, "remote_url": remote_url,
        "timeout_ms": timeout_ms, "returned_fields": returned_fields, "personal_fields": personal_fields,
        "classification": classification, "access_policy": access_policy, "requires_consent": requires_consent == "on",
        "is_active": is_active == "on", "openapi": openapi,
    }
    remote = service.backend == "remote"
    try:
        edit = ServiceEdit(
            title_th=title_th, title_en=title_en, description=description,
            returned_fields=split_fields(returned_fields), personal_fields=split_fields(personal_fields),
            classification=_choice(DataClassification, classification, "classification", N_("Choose a classification.")),
            access_policy=_choice(AccessPolicy, access_policy, "access_policy", N_("Choose who may call the service.")),
            requires_consent=requires_consent == "on", is_active=is_active == "on",
            remote_url=remote_url if remote else None, timeout_ms=_timeout(timeout_ms) if remote else None,
            # An emptied box removes the document: {} is "no description" and shows the default.
            openapi=parse_openapi(openapi) or {},
        )
        await exchange_service.update_service(session, service=service, edit=edit, actor_id=caller.account.id)
    except AppError as error:
        return await form_error(
            request, session, "exchange/service_form.html", error,
            lambda: _edit_context(session, caller, service_id, form),
        )
    return see_other("/gdx/services?updated=1")


# --- Access requests ---------------------------------------------------------------------------


async def _requests_context(session: SessionDep, caller: Caller, **extra: Any) -> dict[str, Any]:
    subsystems = await repository.subsystems_with_agency(session, list(caller.agency_roles))
    ids = [s.id for s, _ in subsystems]
    stewarded = set(exchange_service.steward_agencies(caller))
    deciding = {s.id for s, agency_id in subsystems if agency_id in stewarded}
    incoming = await repository.incoming_requests(session, ids) if ids else []
    outgoing = await repository.outgoing_requests(session, ids) if ids else []
    history = await repository.decisions_of(session, [r.id for r, _, _ in incoming + outgoing])
    people = [r.requested_by for r, _, _ in incoming + outgoing]
    people += [d.decided_by for decisions in history.values() for d in decisions]
    return {
        "incoming": [(r, s, c, s.provider_subsystem_id in deciding) for r, s, c in incoming],
        "outgoing": outgoing, "history": history, "people": await repository.account_names(session, people),
        "names": await repository.subsystem_names(session), "paths": {s.id: s.client_path for s, _ in subsystems},
        "error_request": None, "decision_form": {}, **LABELS, **extra,
    }


@router.get("/gdx/access-requests")
async def access_requests_page(request: Request, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """Requests for my agency's services (to decide on) and my agency's requests to others."""
    _officer(caller)
    return render(request, "exchange/access_requests.html", await _requests_context(session, caller))


@router.post("/gdx/access-requests/{request_id}/decision")
async def decide(
    request: Request,
    request_id: str,
    session: SessionDep,
    caller: SignedIn,
    decision: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=TEXT)] = "",
    allowed_fields: Annotated[list[str] | None, Form()] = None,
    valid_until: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Approve (optionally limited to fields and a date), reject or revoke, with a reason."""
    _officer(caller)
    access_request = await session.get(AccessRequest, request_id)
    service = await session.get(ExchangeService, access_request.service_id) if access_request else None
    if access_request is None or service is None:
        raise NotFound()
    # Another agency's request is refused outright, before anything about it is shown.
    await exchange_service.authorize_access_decision(session, caller=caller, service=service)
    chosen = [name for name in (allowed_fields or []) if name]
    form = {"decision": decision, "reason": reason, "allowed_fields": chosen, "valid_until": valid_until}
    try:
        status = _choice(AccessRequestStatus, decision, "decision", N_("Choose approve, reject or revoke."))
        limited = chosen if status == AccessRequestStatus.APPROVED and service.returned_fields else None
        await exchange_service.decide_access_request(
            session, caller=caller, request_id=request_id, decision=status, reason=reason,
            allowed_fields=limited, valid_until=_end_of_day(valid_until) if status == AccessRequestStatus.APPROVED else None,
        )
    except AppError as error:
        return await form_error(
            request, session, "exchange/access_requests.html", error,
            lambda: _requests_context(session, caller, error_request=request_id, decision_form=form),
        )
    return see_other(f"/gdx/access-requests?decided=1#request-{request_id}")


async def _catalog_service(session: SessionDep, provider_path: str, code: str) -> tuple[ExchangeService, Subsystem]:
    provider = await repository.subsystem_by_path(session, provider_path)
    service = await repository.service_of(session, provider, code) if provider else None
    if service is None or provider is None or not service.is_active:
        raise NotFound()
    return service, provider


async def _request_context(
    session: SessionDep, caller: Caller, provider_path: str, code: str, form: dict[str, Any] | None = None
) -> dict[str, Any]:
    service, provider = await _catalog_service(session, provider_path, code)
    consumers = [s for s, _ in await repository.subsystems_with_agency(session, list(caller.agency_roles))]
    return {
        "service": service, "provider": provider, "consumers": consumers, "form": form or {},
        "names": await repository.subsystem_names(session), **LABELS,
    }


@router.get("/gdx/access-requests/new")
async def request_form(
    request: Request, session: SessionDep, caller: SignedIn, provider: str = "", service: str = ""
) -> HTMLResponse:
    """Ask for access to a catalog service for one of my agency's systems."""
    _officer(caller)
    context = await _request_context(session, caller, provider[:200], service[:64])
    return render(request, "exchange/access_request_form.html", context)


@router.post("/gdx/access-requests/new")
async def request_create(
    request: Request,
    session: SessionDep,
    caller: SignedIn,
    provider: Annotated[str, Form(max_length=200)] = "",
    service: Annotated[str, Form(max_length=64)] = "",
    consumer_id: Annotated[str, Form(max_length=36)] = "",
    purpose: Annotated[str, Form(max_length=TEXT)] = "",
    legal_basis: Annotated[str, Form(max_length=TEXT)] = "",
) -> Response:
    """Send the request to the provider's officers, with its purpose and legal basis."""
    _officer(caller)
    wanted, _provider = await _catalog_service(session, provider, service)
    form = {"consumer_id": consumer_id, "purpose": purpose, "legal_basis": legal_basis}
    try:
        consumer = await session.get(Subsystem, consumer_id) if consumer_id else None
        if consumer is None:
            raise ValidationFailed(N_("Choose the system that will call the service."), field="consumer_id")
        await exchange_service.ensure_acts_for(session, caller=caller, subsystem=consumer)
        await exchange_service.request_access(
            session, service=wanted, consumer=consumer, purpose=purpose, legal_basis=legal_basis,
            requested_by=caller.account.id,
        )
    except AppError as error:
        return await form_error(
            request, session, "exchange/access_request_form.html", error,
            lambda: _request_context(session, caller, provider, service, form),
        )
    return see_other("/gdx/access-requests?requested=1")
