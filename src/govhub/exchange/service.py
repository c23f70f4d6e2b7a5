"""Exchange rules: members and subsystems, publishing services, access rights, consent."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from govhub.exchange import repository
from govhub.exchange.models import (
    AccessDecision,
    AccessPolicy,
    AccessRequest,
    AccessRequestStatus,
    Consent,
    ConsentEvent,
    DataClassification,
    ExchangeService,
    Member,
    Subsystem,
)
from govhub.identity.models import Account, Agency
from govhub.kit.clock import utcnow
from govhub.kit.crypto import pii_hash
from govhub.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from govhub.kit.i18n import N_

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CONSENT_MAX_DAYS = 365


def _check_code(code: str, *, reserved: frozenset[str] = frozenset()) -> None:
    """Codes appear in URLs and identifiers: a short, URL-safe word."""
    if not _CODE.match(code or "") or code in reserved:
        raise ValidationFailed(N_("Use letters, digits, dots, dashes or underscores for the code."), field="code")


# Names of the Information Mediator's directory calls share the service-code position.
RESERVED_SERVICE_CODES = frozenset({"listMethods", "allowedMethods", "getOpenAPI"})


def subject_hash(national_id: str) -> str:
    """How the exchange names a data subject in consents and evidence: a keyed hash."""
    return pii_hash("subject:" + national_id)


async def ensure_member(session: AsyncSession, *, agency: Agency, member_class: str = "GOV") -> Member:
    """The agency's member record, created on first use (every agency is a member)."""
    member = await repository.member_by_agency(session, agency.id)
    if member is None:
        member = Member(member_class=member_class, member_code=agency.code, agency_id=agency.id, name=agency.name_en)
        session.add(member)
        await session.flush()
    return member


async def register_subsystem(
    session: AsyncSession, *, member: Member, code: str, name: str, oauth_client_id: str | None
) -> Subsystem:
    """Add an information system to a member, bound to the OAuth client it signs in as."""
    _check_code(code)
    path = f"{member.path}/{code}"
    if await repository.subsystem_by_path(session, path):
        raise Conflict(N_("This subsystem already exists."), code="duplicate_subsystem")
    subsystem = Subsystem(member_id=member.id, code=code, name=name, oauth_client_id=oauth_client_id, client_path=path)
    session.add(subsystem)
    await session.flush()
    return subsystem


async def publish_service(
    session: AsyncSession,
    *,
    provider: Subsystem,
    code: str,
    title_th: str,
    title_en: str,
    backend: str,
    returned_fields: list[str],
    personal_fields: list[str],
    classification: DataClassification,
    access_policy: AccessPolicy,
    requires_consent: bool,
    registry_code: str | None = None,
    registry_version: str | None = None,
    key_parameter: str | None = None,
    remote_url: str | None = None,
    timeout_ms: int = 5000,
    description: str = "",
    openapi: dict | None = None,
) -> ExchangeService:
    """Publish a service; personal data at confidential or above is never open to all at once."""
    _check_code(code, reserved=RESERVED_SERVICE_CODES)
    if backend == "registry" and not (registry_code and registry_version and key_parameter):
        raise ValidationFailed(N_("A registry service needs the registry, its version and the key parameter."), field="registry_code")
    if backend == "remote" and not (remote_url or "").startswith(("https://", "http://")):
        raise ValidationFailed(N_("A remote service needs the provider system's URL."), field="remote_url")
    if backend not in ("registry", "remote"):
        raise ValidationFailed(N_("Choose a registry or a remote backend."), field="backend")
    if not set(personal_fields) <= set(returned_fields):
        raise ValidationFailed(N_("Personal-data fields must be among the returned fields."), field="personal_fields")
    if await repository.service_of(session, provider, code):
        raise Conflict(N_("This service already exists."), code="duplicate_service")
    service = ExchangeService(
        provider_subsystem_id=provider.id, code=code, title_th=title_th, title_en=title_en, backend=backend,
        registry_code=registry_code, registry_version=registry_version, key_parameter=key_parameter,
        remote_url=remote_url, timeout_ms=max(100, min(timeout_ms, 60000)), returned_fields=returned_fields,
        personal_fields=personal_fields, classification=classification, access_policy=access_policy,
        requires_consent=requires_consent, description=description, openapi=openapi or {},
    )
    session.add(service)
    await session.flush()
    return service


async def request_access(
    session: AsyncSession, *, service: ExchangeService, consumer: Subsystem, purpose: str, legal_basis: str, requested_by: str
) -> AccessRequest:
    """A consumer asks for a service, saying why and under which law."""
    if not purpose.strip() or not legal_basis.strip():
        raise ValidationFailed(N_("State the purpose and the legal basis."), field="purpose")
    request = AccessRequest(
        service_id=service.id, consumer_subsystem_id=consumer.id, purpose=purpose.strip(),
        legal_basis=legal_basis.strip(), status=AccessRequestStatus.PENDING, requested_by=requested_by,
    )
    session.add(request)
    await session.flush()
    return request


async def decide_access(
    session: AsyncSession,
    *,
    request: AccessRequest,
    service: ExchangeService,
    decision: AccessRequestStatus,
    reason: str,
    decided_by: str,
    allowed_fields: list[str] | None = None,
    valid_until: datetime | None = None,
) -> AccessRequest:
    """Approve (optionally limited in fields and time), reject or revoke; recorded for good."""
    if decision == AccessRequestStatus.PENDING:
        raise ValidationFailed(N_("Choose approve, reject or revoke."), field="decision")
    if decision != AccessRequestStatus.APPROVED and not reason.strip():
        raise ValidationFailed(N_("Give the reason for the decision."), field="reason")
    if allowed_fields is not None and not set(allowed_fields) <= set(service.returned_fields):
        raise ValidationFailed(N_("Approved fields must be among the service's fields."), field="allowed_fields")
    request.status = decision
    request.allowed_fields = allowed_fields if decision == AccessRequestStatus.APPROVED else None
    request.valid_until = valid_until
    session.add(AccessDecision(
        request_id=request.id, decision=decision, reason=reason.strip(), allowed_fields=allowed_fields,
        valid_until=valid_until, decided_by=decided_by,
    ))
    await session.flush()
    return request


async def give_consent(
    session: AsyncSession,
    *,
    account: Account,
    service: ExchangeService,
    consumer: Subsystem,
    purpose: str,
    fields: list[str],
    days: int = 30,
) -> Consent:
    """Record a person's consent for one consumer, purpose and set of fields, for some days."""
    if not account.national_id:
        raise Forbidden(N_("Consent for registry data needs a Thai national ID on the account."))
    if not fields or not set(fields) <= set(service.returned_fields):
        raise ValidationFailed(N_("Choose the data you agree to share."), field="fields")
    if not 1 <= days <= CONSENT_MAX_DAYS:
        raise ValidationFailed(N_("Consent can last from 1 to 365 days."), field="days")
    consent = Consent(
        subject_account_id=account.id, subject_hash=subject_hash(account.national_id),
        consumer_subsystem_id=consumer.id, service_id=service.id, purpose=purpose.strip(),
        fields=sorted(set(fields)), valid_until=utcnow() + timedelta(days=days),
    )
    session.add(consent)
    await session.flush()
    session.add(ConsentEvent(consent_id=consent.id, event="given", by=account.id))
    return consent


async def withdraw_consent(session: AsyncSession, *, account: Account, consent_id: str) -> None:
    """Withdraw a consent (a new event; the record itself never changes)."""
    consent = await session.get(Consent, consent_id)
    if consent is None or consent.subject_account_id != account.id:
        raise NotFound()
    if await repository.consent_withdrawn(session, consent.id):
        return
    session.add(ConsentEvent(consent_id=consent.id, event="withdrawn", by=account.id))
    await session.flush()
