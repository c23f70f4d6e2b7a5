"""Every one-stop query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, cast, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.onestop.models import (
    Application,
    ApplicationDocument,
    ApplicationEvent,
    PublicService,
    ServiceManualVersion,
)


async def service_by_code(session: AsyncSession, code: str) -> PublicService | None:
    """A public service by its code."""
    return await session.scalar(select(PublicService).where(PublicService.code == code))


async def service_by_id(session: AsyncSession, service_id: str) -> PublicService | None:
    """A public service by id."""
    return await session.get(PublicService, service_id)


async def version_of(session: AsyncSession, service_id: str, version: int) -> ServiceManualVersion | None:
    """One version of a service's manual."""
    query = select(ServiceManualVersion).where(
        ServiceManualVersion.service_id == service_id, ServiceManualVersion.version == version
    )
    return await session.scalar(query)


async def version_by_id(session: AsyncSession, version_id: str) -> ServiceManualVersion | None:
    """A manual version by id (the GovStack e-form id)."""
    return await session.get(ServiceManualVersion, version_id)


async def current_versions(session: AsyncSession, services: Sequence[PublicService]) -> dict[str, ServiceManualVersion]:
    """The current manual version of each service, by service id, in one query."""
    if not services:
        return {}
    query = select(ServiceManualVersion).join(
        PublicService,
        (PublicService.id == ServiceManualVersion.service_id)
        & (PublicService.current_version == ServiceManualVersion.version),
    ).where(PublicService.id.in_([service.id for service in services]))
    return {version.service_id: version for version in (await session.scalars(query)).all()}


async def versions_of(session: AsyncSession, service_id: str) -> Sequence[ServiceManualVersion]:
    """Every version of a service's manual, oldest first."""
    query = select(ServiceManualVersion).where(ServiceManualVersion.service_id == service_id)
    return (await session.scalars(query.order_by(ServiceManualVersion.version))).all()


def _lists(column: Any, value: str) -> Any:
    """A JSON list column holds a code (codes are plain words, so their quoted form is unique)."""
    return cast(column, Text).like(f'%"{value}"%')


async def search_services(
    session: AsyncSession,
    *,
    words: Sequence[str] = (),
    audience: str | None = None,
    business_type: str | None = None,
    life_event: str | None = None,
    agency_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[PublicService], int]:
    """Active services matching every word and filter, by Thai title; and how many match."""
    query = select(PublicService).where(PublicService.is_active.is_(True))
    for word in words:
        query = query.where(PublicService.search_text.contains(word, autoescape=True))
    if audience:
        query = query.where(_lists(PublicService.audiences, audience))
    if business_type:
        query = query.where(_lists(PublicService.business_types, business_type))
    if life_event:
        query = query.where(_lists(PublicService.life_events, life_event))
    if agency_id:
        query = query.where(PublicService.agency_id == agency_id)
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = await session.scalars(query.order_by(PublicService.title_th, PublicService.code).limit(limit).offset(offset))
    return rows.all(), total


async def drafts_of(session: AsyncSession, account_id: str, service_id: str) -> Sequence[Application]:
    """The account's unsubmitted drafts for one service, newest first."""
    rows = await session.scalars(
        select(Application)
        .where(Application.applicant_account_id == account_id, Application.service_id == service_id,
               Application.state == "draft")
        .order_by(Application.updated_at.desc())
    )
    return rows.all()


async def applications_of(session: AsyncSession, account_id: str, *, limit: int = 200) -> Sequence[Application]:
    """The account's applications, most recently changed first."""
    rows = await session.scalars(
        select(Application).where(Application.applicant_account_id == account_id)
        .order_by(Application.updated_at.desc()).limit(limit)
    )
    return rows.all()


async def service_titles(session: AsyncSession, service_ids: set[str]) -> dict[str, tuple[str, str]]:
    """Thai and English titles of these services by id."""
    if not service_ids:
        return {}
    rows = await session.execute(
        select(PublicService.id, PublicService.title_th, PublicService.title_en).where(PublicService.id.in_(service_ids))
    )
    return {row.id: (row.title_th, row.title_en) for row in rows}


async def application_by_tracking_number(session: AsyncSession, number: str) -> Application | None:
    """The submitted application with this tracking number."""
    return await session.scalar(select(Application).where(Application.tracking_number == number))


# --- the officers' back office -----------------------------------------------------------------

DUE_FILTERS = ("any", "overdue", "due_7_days")


@dataclass(frozen=True)
class ActOn:
    """A state of one manual version in which the caller holds a role of some action.

    `once_codes` lists the actions when all of them are once-only: the case qualifies only
    while one of them has not been taken yet. Empty: the state always qualifies.
    """

    version_id: str
    state: str
    once_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueFilters:
    """What the back-office queue shows: submitted cases of these agencies, narrowed by the rest."""

    agency_ids: Sequence[str]
    now: datetime
    service_id: str | None = None
    state: str | None = None
    due: str = "any"
    tracking: str = ""
    # None: no "my role can act" filter; a list (even empty): only cases matching one of them.
    act_on: Sequence[ActOn] | None = None


def _can_act(rules: Sequence[ActOn]) -> ColumnElement[bool]:
    if not rules:
        return false()
    clauses = []
    for rule in rules:
        clause = and_(Application.manual_version_id == rule.version_id, Application.state == rule.state)
        if rule.once_codes:
            unused = [
                ~exists().where(ApplicationEvent.application_id == Application.id, ApplicationEvent.action == code)
                for code in rule.once_codes
            ]
            clause = and_(clause, or_(*unused))
        clauses.append(clause)
    return or_(*clauses)


def _due(query: Select[Any], due: str, now: datetime) -> Select[Any]:
    if due == "overdue":
        return query.where(Application.is_final.is_(False), Application.due_at < now)
    if due == "due_7_days":
        return query.where(
            Application.is_final.is_(False), Application.due_at >= now, Application.due_at < now + timedelta(days=7)
        )
    return query


def _queue_query(filters: QueueFilters) -> Select[Any]:
    query = select(Application).where(
        Application.agency_id.in_(list(filters.agency_ids)), Application.state != "draft"
    )
    if filters.service_id:
        query = query.where(Application.service_id == filters.service_id)
    if filters.state:
        query = query.where(Application.state == filters.state)
    if filters.tracking:
        query = query.where(Application.tracking_number.contains(filters.tracking, autoescape=True))
    if filters.act_on is not None:
        query = query.where(_can_act(filters.act_on))
    return _due(query, filters.due, filters.now)


async def count_queue(session: AsyncSession, filters: QueueFilters) -> int:
    """How many cases the back-office queue holds with these filters."""
    query = select(func.count()).select_from(_queue_query(filters).subquery())
    return int(await session.scalar(query) or 0)


async def queue(session: AsyncSession, filters: QueueFilters, *, limit: int, offset: int) -> Sequence[Application]:
    """One page of the queue, soonest deadline first; cases without a deadline last."""
    query = _queue_query(filters).order_by(
        Application.due_at.is_(None), Application.due_at, Application.submitted_at, Application.id
    )
    return (await session.scalars(query.limit(limit).offset(offset))).all()


async def manual_versions_in_queue(session: AsyncSession, agency_ids: Sequence[str]) -> Sequence[tuple[str, str]]:
    """The distinct (manual version id, agency id) of these agencies' submitted cases."""
    query = select(Application.manual_version_id, Application.agency_id).where(
        Application.agency_id.in_(list(agency_ids)), Application.state != "draft"
    ).distinct()
    return [(row.manual_version_id, row.agency_id) for row in await session.execute(query)]


async def services_of_agencies(session: AsyncSession, agency_ids: Sequence[str]) -> Sequence[PublicService]:
    """Every service (active or not) of these agencies, by Thai title."""
    query = select(PublicService).where(PublicService.agency_id.in_(list(agency_ids)))
    return (await session.scalars(query.order_by(PublicService.title_th, PublicService.code))).all()


async def history_of(session: AsyncSession, application_id: str) -> Sequence[tuple[ApplicationEvent, str | None]]:
    """Every event of the case in order (internal notes too), with the actor's name."""
    from govhub.identity.models import Account

    query = (
        select(ApplicationEvent, Account.full_name)
        .outerjoin(Account, Account.id == ApplicationEvent.actor_account_id)
        .where(ApplicationEvent.application_id == application_id)
        .order_by(ApplicationEvent.seq)
    )
    return [(event, name) for event, name in (await session.execute(query)).all()]


async def document_of(session: AsyncSession, application_id: str, document_id: str) -> ApplicationDocument | None:
    """One of the application's documents (a replaced one too); None if it belongs elsewhere."""
    document = await session.get(ApplicationDocument, document_id)
    return document if document is not None and document.application_id == application_id else None
