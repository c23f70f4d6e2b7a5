"""Every one-stop query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.onestop.models import Application, PublicService, ServiceManualVersion


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
