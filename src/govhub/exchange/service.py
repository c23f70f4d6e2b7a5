"""Exchange rules: members and subsystems, publishing services, access rights, consent."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

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
from govhub.identity import audit
from govhub.identity.audit import AuditAction
from govhub.identity.models import Account, Agency, OfficerRole
from govhub.kit.clock import utcnow
from govhub.kit.crypto import pii_hash
from govhub.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.registries import repository as registries_repository

if TYPE_CHECKING:
    from govhub.identity.auth import Caller

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_FIELD = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
CONSENT_MAX_DAYS = 365
TITLE_MAX = 255
DESCRIPTION_MAX = 5000
REMOTE_URL_MAX = 2000
MAX_FIELDS = 200
TIMEOUT_MIN_MS, TIMEOUT_MAX_MS = 100, 60_000
OPENAPI_MAX_BYTES = 64 * 1024
# The classes at which personal data is never served to every member at once.
SENSITIVE_CLASSES = frozenset({DataClassification.CONFIDENTIAL, DataClassification.SECRET, DataClassification.TOP_SECRET})
# Who publishes and changes an agency's services and decides on access to them.
STEWARD_ROLES = (OfficerRole.AGENCY_ADMIN, OfficerRole.DATA_STEWARD)


def _check_code(code: str, *, reserved: frozenset[str] = frozenset()) -> None:
    """Codes appear in URLs and identifiers: a short, URL-safe word."""
    if not _CODE.match(code or "") or code in reserved:
        raise ValidationFailed(N_("Use letters, digits, dots, dashes or underscores for the code."), field="code")


# Names of the Information Mediator's directory calls share the service-code position.
RESERVED_SERVICE_CODES = frozenset({"listMethods", "allowedMethods", "getOpenAPI"})


JURISTIC_REGISTRY = "juristic-persons"


def subject_hash(national_id: str) -> str:
    """How the exchange names a data subject in consents and evidence: a keyed hash."""
    return pii_hash("subject:" + national_id)


async def subjects_of(session: AsyncSession, account: Account) -> list[str]:
    """The data subjects whose exchange calls the account may see: itself, and the company it directs.

    A business account names its juristic person; it sees the calls about that company only
    when the registry lists the account's national ID among the company's directors.
    """
    if not account.national_id:
        return []
    subjects = [subject_hash(account.national_id)]
    if await directs_company(session, account):
        subjects.append(subject_hash(account.juristic_id or ""))
    return subjects


async def directs_company(session: AsyncSession, account: Account) -> bool:
    """True if the juristic-person registry lists the account's national ID as a director of its company.

    A business account's juristic person number is typed at registration; this is what makes
    it more than a claim.
    """
    if not (account.national_id and account.juristic_id):
        return False
    from govhub.registries.service import lookup

    company = await lookup(session, registry_code=JURISTIC_REGISTRY, version="1.0", key=account.juristic_id)
    return bool(company and account.national_id in (company.get("directors") or []))


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


# --- Who may act: one rule each, shared by the officers' pages and JSON APIs ---------------


def steward_agencies(caller: Caller) -> list[str]:
    """The agencies whose services the caller may publish, change and decide on."""
    return [agency for agency in caller.agency_roles if caller.has_role(agency, *STEWARD_ROLES)]


async def _ensure_steward(session: AsyncSession, caller: Caller, subsystem: Subsystem | None, message: str) -> None:
    agency = await repository.agency_of_subsystem(session, subsystem) if subsystem is not None else None
    if not (agency and caller.has_role(agency, *STEWARD_ROLES)):
        raise Forbidden(message)


async def authorize_service_change(session: AsyncSession, *, caller: Caller, provider: Subsystem | None) -> None:
    """Only the owning agency's administrators and data stewards publish or change its services."""
    message = N_("Only the agency's administrators and data stewards can publish and change its services.")
    await _ensure_steward(session, caller, provider, message)


async def authorize_access_decision(session: AsyncSession, *, caller: Caller, service: ExchangeService) -> None:
    """Only the provider agency's administrators and data stewards decide on access to its services."""
    provider = await session.get(Subsystem, service.provider_subsystem_id)
    await _ensure_steward(
        session, caller, provider, N_("Only the provider agency's data stewards decide on access to its services.")
    )


async def ensure_acts_for(session: AsyncSession, *, caller: Caller, subsystem: Subsystem) -> None:
    """Officers act only for their own agency's systems (administrators for any)."""
    if caller.is_admin:
        return
    if await repository.agency_of_subsystem(session, subsystem) not in caller.agency_roles:
        raise Forbidden(N_("You can act only for your own agency's systems."))


# --- Services --------------------------------------------------------------------------------


def clean_field_names(names: list[str]) -> list[str]:
    """Field names without blanks or repeats, in the order given."""
    cleaned: list[str] = []
    for name in (n.strip() for n in names):
        if name and name not in cleaned:
            cleaned.append(name)
    return cleaned


def _check_backend(backend: str, *, registry_code: str | None, registry_version: str | None,
                   key_parameter: str | None, remote_url: str | None) -> None:
    if backend == "registry" and not (registry_code and registry_version and key_parameter):
        raise ValidationFailed(N_("A registry service needs the registry, its version and the key parameter."), field="registry_code")
    if backend == "remote" and not (remote_url or "").startswith(("https://", "http://")):
        raise ValidationFailed(N_("A remote service needs the provider system's URL."), field="remote_url")
    if backend == "remote" and len(remote_url or "") > REMOTE_URL_MAX:
        raise ValidationFailed(N_("The URL can be up to %(max)s characters."), field="remote_url", max=REMOTE_URL_MAX)
    if backend not in ("registry", "remote"):
        raise ValidationFailed(N_("Choose a registry or a remote backend."), field="backend")


def _check_service_rules(
    *,
    title_th: str,
    title_en: str,
    description: str,
    returned_fields: list[str],
    personal_fields: list[str],
    classification: DataClassification,
    access_policy: AccessPolicy,
    requires_consent: bool,
    timeout_ms: int,
    openapi: dict[str, Any] | None,
) -> None:
    """The rules every published service keeps, whether new or changed."""
    if not title_th.strip() or not title_en.strip():
        raise ValidationFailed(N_("Enter both the Thai and the English title."), field="title_th")
    if len(title_th) > TITLE_MAX or len(title_en) > TITLE_MAX:
        raise ValidationFailed(N_("A title can be up to %(max)s characters."), field="title_th", max=TITLE_MAX)
    if len(description) > DESCRIPTION_MAX:
        raise ValidationFailed(
            N_("The description can be up to %(max)s characters."), field="description", max=DESCRIPTION_MAX
        )
    if len(returned_fields) > MAX_FIELDS or not all(_FIELD.match(name) for name in returned_fields + personal_fields):
        raise ValidationFailed(
            N_("Name each field with up to 64 letters, digits, dots, dashes or underscores (at most %(max)s fields)."),
            field="returned_fields", max=MAX_FIELDS,
        )
    if not set(personal_fields) <= set(returned_fields):
        raise ValidationFailed(N_("Personal-data fields must be among the returned fields."), field="personal_fields")
    # Personal data at confidential or above is never open to every member at once: either the
    # provider approves each consumer, or each call needs the person's own consent.
    if (personal_fields and classification in SENSITIVE_CLASSES
            and access_policy == AccessPolicy.OPEN_TO_GOVERNMENT and not requires_consent):
        raise ValidationFailed(
            N_("Personal data classified confidential or above cannot be open to every agency: "
               "require the provider's approval or the person's consent."),
            field="access_policy",
        )
    if not TIMEOUT_MIN_MS <= timeout_ms <= TIMEOUT_MAX_MS:
        raise ValidationFailed(
            N_("The timeout must be from %(min)s to %(max)s milliseconds."), field="timeout_ms",
            min=TIMEOUT_MIN_MS, max=TIMEOUT_MAX_MS,
        )
    if openapi is not None:
        if not isinstance(openapi, dict):
            raise ValidationFailed(N_("The OpenAPI description must be a JSON object."), field="openapi")
        if len(json.dumps(openapi, ensure_ascii=False).encode()) > OPENAPI_MAX_BYTES:
            raise ValidationFailed(
                N_("The OpenAPI description can be up to %(max)s KB."), field="openapi", max=OPENAPI_MAX_BYTES // 1024
            )


async def _check_own_registry(
    session: AsyncSession, provider: Subsystem, registry_code: str, registry_version: str
) -> None:
    """A registry service answers only from a registry the provider's own agency hosts."""
    registry = await registries_repository.registry_by_code(session, registry_code)
    version = await registries_repository.version_of(session, registry.id, registry_version) if registry else None
    if version is None or registry is None or registry.agency_id != await repository.agency_of_subsystem(session, provider):
        raise ValidationFailed(N_("Choose a registry version that your agency hosts on govhub."), field="registry_code")


def _audit_value(name: str, value: Any) -> Any:
    if name == "openapi":
        # The document itself can be large: the log says that it changed and how big it is.
        return {"bytes": len(json.dumps(value or {}, ensure_ascii=False).encode())}
    return value.value if isinstance(value, DataClassification | AccessPolicy) else value


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
    actor_id: str | None = None,
) -> ExchangeService:
    """Publish a service; personal data at confidential or above is never open to all at once."""
    _check_code(code, reserved=RESERVED_SERVICE_CODES)
    _check_backend(backend, registry_code=registry_code, registry_version=registry_version,
                   key_parameter=key_parameter, remote_url=remote_url)
    returned_fields, personal_fields = clean_field_names(returned_fields), clean_field_names(personal_fields)
    title_th, title_en, description = title_th.strip(), title_en.strip(), (description or "").strip()
    _check_service_rules(
        title_th=title_th, title_en=title_en, description=description, returned_fields=returned_fields,
        personal_fields=personal_fields, classification=classification, access_policy=access_policy,
        requires_consent=requires_consent, timeout_ms=timeout_ms, openapi=openapi,
    )
    if backend == "registry":
        await _check_own_registry(session, provider, registry_code or "", registry_version or "")
    if await repository.service_of(session, provider, code):
        raise Conflict(N_("This service already exists."), code="duplicate_service")
    service = ExchangeService(
        provider_subsystem_id=provider.id, code=code, title_th=title_th, title_en=title_en, backend=backend,
        registry_code=registry_code if backend == "registry" else None,
        registry_version=registry_version if backend == "registry" else None, key_parameter=key_parameter,
        remote_url=remote_url if backend == "remote" else None, timeout_ms=timeout_ms, returned_fields=returned_fields,
        personal_fields=personal_fields, classification=classification, access_policy=access_policy,
        requires_consent=requires_consent, description=description, openapi=openapi or {},
    )
    session.add(service)
    await session.flush()
    await audit.record(
        session, AuditAction.GDX_SERVICE_PUBLISHED, actor_id=actor_id, subject_id=service.id,
        service=f"{provider.client_path}/{code}", backend=backend, classification=classification.value,
        access_policy=access_policy.value, requires_consent=requires_consent, personal_fields=personal_fields,
    )
    return service


@dataclass(frozen=True)
class ServiceEdit:
    """What an officer may change on a published service; None leaves a value as it is."""

    title_th: str | None = None
    title_en: str | None = None
    description: str | None = None
    returned_fields: list[str] | None = None
    personal_fields: list[str] | None = None
    classification: DataClassification | None = None
    access_policy: AccessPolicy | None = None
    requires_consent: bool | None = None
    remote_url: str | None = None
    timeout_ms: int | None = None
    openapi: dict[str, Any] | None = None
    is_active: bool | None = None


EDITABLE_SERVICE_FIELDS = tuple(f.name for f in fields(ServiceEdit))


async def update_service(
    session: AsyncSession, *, service: ExchangeService, edit: ServiceEdit, actor_id: str | None
) -> dict[str, tuple[Any, Any]]:
    """Change a service under the same rules as publishing; every change goes to the audit log.

    Returns what changed (field -> (old, new)). The code, provider and backend never change:
    consumers, approvals, consents and evidence refer to them.
    """
    wanted = {name: value for name, value in asdict(edit).items() if value is not None}
    for name in ("title_th", "title_en", "description", "remote_url"):
        if name in wanted:
            wanted[name] = wanted[name].strip()
    for name in ("returned_fields", "personal_fields"):
        if name in wanted:
            wanted[name] = clean_field_names(wanted[name])
    current = {name: getattr(service, name) for name in EDITABLE_SERVICE_FIELDS}
    new = {**current, **wanted}
    if service.backend != "remote" and any(
        name in wanted and wanted[name] != current[name] for name in ("remote_url", "timeout_ms")
    ):
        raise ValidationFailed(N_("Only a remote service has a URL and a timeout."), field="remote_url")
    _check_backend(service.backend, registry_code=service.registry_code, registry_version=service.registry_version,
                   key_parameter=service.key_parameter, remote_url=new["remote_url"])
    _check_service_rules(
        title_th=new["title_th"], title_en=new["title_en"], description=new["description"],
        returned_fields=new["returned_fields"], personal_fields=new["personal_fields"],
        classification=new["classification"], access_policy=new["access_policy"],
        requires_consent=new["requires_consent"], timeout_ms=new["timeout_ms"], openapi=new["openapi"],
    )
    changes = {name: (current[name], new[name]) for name in EDITABLE_SERVICE_FIELDS if new[name] != current[name]}
    if not changes:
        return changes
    for name, (_old, value) in changes.items():
        setattr(service, name, value)
    await session.flush()
    await audit.record(
        session, AuditAction.GDX_SERVICE_UPDATED, actor_id=actor_id, subject_id=service.id, service_code=service.code,
        changes={name: [_audit_value(name, old), _audit_value(name, value)] for name, (old, value) in changes.items()},
    )
    return changes


# --- Access requests and decisions ----------------------------------------------------------


async def request_access(
    session: AsyncSession, *, service: ExchangeService, consumer: Subsystem, purpose: str, legal_basis: str, requested_by: str
) -> AccessRequest:
    """A consumer asks for a service, saying why and under which law."""
    if not service.is_active:
        raise NotFound()
    if not purpose.strip() or not legal_basis.strip():
        raise ValidationFailed(N_("State the purpose and the legal basis."), field="purpose")
    if await repository.pending_request(session, service_id=service.id, consumer_id=consumer.id):
        raise Conflict(N_("This system already has a request for this service waiting for a decision."),
                       code="duplicate_access_request")
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
    # An empty list would read as "no limit" at call time: an approval names at least one field.
    if decision == AccessRequestStatus.APPROVED and allowed_fields == [] and service.returned_fields:
        raise ValidationFailed(N_("Choose at least one field to approve."), field="allowed_fields")
    request.status = decision
    request.allowed_fields = allowed_fields if decision == AccessRequestStatus.APPROVED else None
    request.valid_until = valid_until
    session.add(AccessDecision(
        request_id=request.id, decision=decision, reason=reason.strip(), allowed_fields=allowed_fields,
        valid_until=valid_until, decided_by=decided_by,
    ))
    await session.flush()
    return request


# Which decisions an officer may take from where a request stands.
_ALLOWED_DECISIONS = {
    AccessRequestStatus.PENDING: {AccessRequestStatus.APPROVED, AccessRequestStatus.REJECTED},
    AccessRequestStatus.APPROVED: {AccessRequestStatus.REVOKED},
}


async def decide_access_request(
    session: AsyncSession,
    *,
    caller: Caller,
    request_id: str,
    decision: AccessRequestStatus,
    reason: str,
    allowed_fields: list[str] | None = None,
    valid_until: datetime | None = None,
) -> AccessRequest:
    """An officer's decision on a request for their agency's service (pages and JSON API)."""
    request = await session.get(AccessRequest, request_id)
    service = await session.get(ExchangeService, request.service_id) if request else None
    if request is None or service is None:
        raise NotFound()
    await authorize_access_decision(session, caller=caller, service=service)
    if decision not in _ALLOWED_DECISIONS.get(request.status, set()):
        if decision == AccessRequestStatus.REVOKED:
            raise ValidationFailed(N_("Only an approved request can be revoked."), field="decision")
        if decision == AccessRequestStatus.PENDING:
            raise ValidationFailed(N_("Choose approve, reject or revoke."), field="decision")
        raise Conflict(N_("This request has already been decided."), code="already_decided")
    if valid_until is not None and valid_until <= utcnow():
        raise ValidationFailed(N_("The end date of an approval must be in the future."), field="valid_until")
    return await decide_access(
        session, request=request, service=service, decision=decision, reason=reason,
        decided_by=caller.account.id, allowed_fields=allowed_fields, valid_until=valid_until,
    )


async def give_consent(
    session: AsyncSession,
    *,
    account: Account,
    service: ExchangeService,
    consumer: Subsystem,
    purpose: str,
    fields: list[str],
    days: int = 30,
    subject_id: str | None = None,
) -> Consent:
    """Record a person's consent for one consumer, purpose and set of fields, for some days.

    The subject is the person, or (subject_id) a company the person directs and answers for.
    """
    if not account.national_id:
        raise Forbidden(N_("Consent for registry data needs a Thai national ID on the account."))
    if not fields or not set(fields) <= set(service.returned_fields):
        raise ValidationFailed(N_("Choose the data you agree to share."), field="fields")
    if not 1 <= days <= CONSENT_MAX_DAYS:
        raise ValidationFailed(N_("Consent can last from 1 to 365 days."), field="days")
    consent = Consent(
        subject_account_id=account.id, subject_hash=subject_hash(subject_id or account.national_id),
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
