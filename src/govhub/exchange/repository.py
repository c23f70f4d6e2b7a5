"""Every exchange query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.exchange.models import (
    AccessRequest,
    AccessRequestStatus,
    Consent,
    ConsentEvent,
    ExchangeService,
    Member,
    Subsystem,
)


async def member_by_agency(session: AsyncSession, agency_id: str) -> Member | None:
    """The member an agency is."""
    return await session.scalar(select(Member).where(Member.agency_id == agency_id))


async def subsystem_by_path(session: AsyncSession, client_path: str) -> Subsystem | None:
    """A subsystem by INSTANCE/CLASS/MEMBER/SUBSYSTEM."""
    return await session.scalar(select(Subsystem).where(Subsystem.client_path == client_path))


async def subsystem_by_client(session: AsyncSession, oauth_client_id: str) -> Subsystem | None:
    """The subsystem an OAuth client authenticates as."""
    return await session.scalar(select(Subsystem).where(Subsystem.oauth_client_id == oauth_client_id))


async def service_of(session: AsyncSession, provider: Subsystem, code: str) -> ExchangeService | None:
    """A provider's service by code."""
    query = select(ExchangeService).where(
        ExchangeService.provider_subsystem_id == provider.id, ExchangeService.code == code
    )
    return await session.scalar(query)


async def services_of(session: AsyncSession, provider: Subsystem) -> Sequence[ExchangeService]:
    """A provider's active services."""
    query = select(ExchangeService).where(
        ExchangeService.provider_subsystem_id == provider.id, ExchangeService.is_active.is_(True)
    )
    return (await session.scalars(query.order_by(ExchangeService.code))).all()


async def list_subsystems(session: AsyncSession) -> Sequence[Subsystem]:
    """Every active subsystem (the directory's listClients)."""
    query = select(Subsystem).where(Subsystem.is_active.is_(True)).order_by(Subsystem.client_path)
    return (await session.scalars(query)).all()


async def approved_request(
    session: AsyncSession, *, service_id: str, consumer_id: str, now: datetime
) -> AccessRequest | None:
    """The consumer's approved, unexpired access to a service, if any."""
    query = select(AccessRequest).where(
        AccessRequest.service_id == service_id,
        AccessRequest.consumer_subsystem_id == consumer_id,
        AccessRequest.status == AccessRequestStatus.APPROVED,
        or_(AccessRequest.valid_until.is_(None), AccessRequest.valid_until > now),
    )
    return await session.scalar(query.order_by(AccessRequest.requested_at.desc()).limit(1))


async def consent_withdrawn(session: AsyncSession, consent_id: str) -> bool:
    """True if the consent has a withdrawal event."""
    query = select(ConsentEvent.id).where(
        ConsentEvent.consent_id == consent_id, ConsentEvent.event == "withdrawn"
    )
    return await session.scalar(query.limit(1)) is not None


async def consents_of(session: AsyncSession, account_id: str) -> Sequence[Consent]:
    """A person's consents, newest first."""
    query = select(Consent).where(Consent.subject_account_id == account_id)
    return (await session.scalars(query.order_by(Consent.given_at.desc()))).all()


async def usage_of_subject(session: AsyncSession, *subjects: str, limit: int = 200) -> Sequence[Any]:
    """Evidence of exchange calls about these data subjects, newest first (their Data Tracker)."""
    from govhub.exchange.evidence import EvidenceRecord

    query = select(EvidenceRecord).where(EvidenceRecord.subject_hash.in_(subjects))
    return (await session.scalars(query.order_by(EvidenceRecord.seq.desc()).limit(limit))).all()


async def subsystem_names(session: AsyncSession) -> dict[str, str]:
    """Subsystem path -> the name of its agency (for showing people who read their data)."""
    from govhub.identity.models import Agency

    query = select(Subsystem.client_path, Agency.name_th, Agency.name_en).join(
        Member, Member.id == Subsystem.member_id
    ).join(Agency, Agency.id == Member.agency_id, isouter=True)
    return {path: f"{th} / {en}" if th else path for path, th, en in (await session.execute(query)).all()}


async def catalog(session: AsyncSession, *, search: str = "", limit: int = 200) -> Sequence[tuple[ExchangeService, Subsystem]]:
    """Active services with their provider, filtered by a word in the code or either title."""
    query = select(ExchangeService, Subsystem).join(Subsystem, Subsystem.id == ExchangeService.provider_subsystem_id)
    query = query.where(ExchangeService.is_active.is_(True))
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(or_(
            func.lower(ExchangeService.code).like(pattern),
            func.lower(ExchangeService.title_en).like(pattern),
            ExchangeService.title_th.like(f"%{search}%"),
        ))
    rows = await session.execute(query.order_by(Subsystem.client_path, ExchangeService.code).limit(limit))
    return [(service, subsystem) for service, subsystem in rows.all()]


async def agency_of_subsystem(session: AsyncSession, subsystem: Subsystem) -> str | None:
    """The agency that owns a subsystem."""
    return await session.scalar(select(Member.agency_id).where(Member.id == subsystem.member_id))


async def subsystems_of_agencies(session: AsyncSession, agency_ids: Sequence[str]) -> Sequence[Subsystem]:
    """The subsystems of the given agencies (an officer's view of their agency's exchange)."""
    query = select(Subsystem).join(Member, Member.id == Subsystem.member_id).where(
        Member.agency_id.in_(list(agency_ids))
    )
    return (await session.scalars(query)).all()


async def requests_for_agencies(session: AsyncSession, subsystem_ids: Sequence[str]) -> Sequence[AccessRequest]:
    """Access requests where the agency is the consumer or the provider."""
    services = select(ExchangeService.id).where(ExchangeService.provider_subsystem_id.in_(list(subsystem_ids)))
    query = select(AccessRequest).where(or_(
        AccessRequest.consumer_subsystem_id.in_(list(subsystem_ids)), AccessRequest.service_id.in_(services)
    ))
    return (await session.scalars(query.order_by(AccessRequest.requested_at.desc()).limit(500))).all()


async def traffic_of(session: AsyncSession, paths: Sequence[str], *, limit: int = 100) -> tuple[Sequence[Any], list[tuple[str, str, int]]]:
    """Recent evidence records where the agency consumed or provided, and counts per service and status."""
    from govhub.exchange.evidence import EvidenceRecord

    involved = or_(EvidenceRecord.consumer.in_(list(paths)), EvidenceRecord.provider.in_(list(paths)))
    recent = (await session.scalars(
        select(EvidenceRecord).where(involved).order_by(EvidenceRecord.seq.desc()).limit(limit)
    )).all()
    counts = await session.execute(
        select(EvidenceRecord.service_code, EvidenceRecord.status, func.count())
        .where(involved).group_by(EvidenceRecord.service_code, EvidenceRecord.status)
        .order_by(EvidenceRecord.service_code, EvidenceRecord.status)
    )
    return recent, [(code, status, int(n)) for code, status, n in counts.all()]


async def services_backed_by(session: AsyncSession, registry_code: str) -> set[tuple[str, str]]:
    """(provider path, service code) of the services answered from a hosted registry."""
    query = select(Subsystem.client_path, ExchangeService.code).join(
        Subsystem, Subsystem.id == ExchangeService.provider_subsystem_id
    ).where(ExchangeService.registry_code == registry_code)
    return {(path, code) for path, code in (await session.execute(query)).all()}


# --- The officers' portal: their agency's services, registries and access requests ----------


async def subsystems_with_agency(session: AsyncSession, agency_ids: Sequence[str]) -> list[tuple[Subsystem, str]]:
    """The given agencies' subsystems, each with its agency's id, by path."""
    query = select(Subsystem, Member.agency_id).join(Member, Member.id == Subsystem.member_id).where(
        Member.agency_id.in_(list(agency_ids))
    )
    rows = await session.execute(query.order_by(Subsystem.client_path))
    return [(subsystem, agency_id) for subsystem, agency_id in rows.all()]


async def services_of_subsystems(session: AsyncSession, subsystem_ids: Sequence[str]) -> Sequence[ExchangeService]:
    """Every service of the given provider subsystems, active or not, by code."""
    query = select(ExchangeService).where(ExchangeService.provider_subsystem_id.in_(list(subsystem_ids)))
    return (await session.scalars(query.order_by(ExchangeService.code))).all()


async def hosted_registry_versions(session: AsyncSession, agency_ids: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(agency id, registry code, version, primary key) of the registries the agencies host."""
    from govhub.registries.models import Registry, RegistryVersion

    query = select(Registry.agency_id, Registry.code, RegistryVersion.version, RegistryVersion.primary_key).join(
        RegistryVersion, RegistryVersion.registry_id == Registry.id
    ).where(Registry.agency_id.in_(list(agency_ids)))
    rows = await session.execute(query.order_by(Registry.code, RegistryVersion.version))
    return [(agency, code, version, key) for agency, code, version, key in rows.all()]


async def pending_request(session: AsyncSession, *, service_id: str, consumer_id: str) -> AccessRequest | None:
    """The consumer's request for a service that still waits for a decision, if any."""
    query = select(AccessRequest).where(
        AccessRequest.service_id == service_id,
        AccessRequest.consumer_subsystem_id == consumer_id,
        AccessRequest.status == AccessRequestStatus.PENDING,
    )
    return await session.scalar(query.limit(1))


async def incoming_requests(
    session: AsyncSession, provider_ids: Sequence[str], *, limit: int = 500
) -> list[tuple[AccessRequest, ExchangeService, Subsystem]]:
    """Requests for the given providers' services, newest first, with the service and the consumer."""
    query = (
        select(AccessRequest, ExchangeService, Subsystem)
        .join(ExchangeService, ExchangeService.id == AccessRequest.service_id)
        .join(Subsystem, Subsystem.id == AccessRequest.consumer_subsystem_id)
        .where(ExchangeService.provider_subsystem_id.in_(list(provider_ids)))
    )
    rows = await session.execute(query.order_by(AccessRequest.requested_at.desc(), AccessRequest.id).limit(limit))
    return [(request, service, consumer) for request, service, consumer in rows.all()]


async def outgoing_requests(
    session: AsyncSession, consumer_ids: Sequence[str], *, limit: int = 500
) -> list[tuple[AccessRequest, ExchangeService, Subsystem]]:
    """Requests the given consumers made, newest first, with the service and its provider."""
    query = (
        select(AccessRequest, ExchangeService, Subsystem)
        .join(ExchangeService, ExchangeService.id == AccessRequest.service_id)
        .join(Subsystem, Subsystem.id == ExchangeService.provider_subsystem_id)
        .where(AccessRequest.consumer_subsystem_id.in_(list(consumer_ids)))
    )
    rows = await session.execute(query.order_by(AccessRequest.requested_at.desc(), AccessRequest.id).limit(limit))
    return [(request, service, provider) for request, service, provider in rows.all()]


async def decisions_of(session: AsyncSession, request_ids: Sequence[str]) -> dict[str, list[Any]]:
    """The decision history of each request (AccessDecision rows), oldest first."""
    from govhub.exchange.models import AccessDecision

    history: dict[str, list[Any]] = {}
    if not request_ids:
        return history
    query = select(AccessDecision).where(AccessDecision.request_id.in_(list(request_ids)))
    for decision in (await session.scalars(query.order_by(AccessDecision.decided_at, AccessDecision.id))).all():
        history.setdefault(decision.request_id, []).append(decision)
    return history


async def account_names(session: AsyncSession, account_ids: Sequence[str]) -> dict[str, str]:
    """Account id -> full name (who asked, who decided)."""
    from govhub.identity.models import Account

    if not account_ids:
        return {}
    query = select(Account.id, Account.full_name).where(Account.id.in_(sorted(set(account_ids))))
    return {account_id: name for account_id, name in (await session.execute(query)).all()}
