"""Every registries query, including the scoping that limits which registries a caller sees.

Filters on record fields use SQLAlchemy's JSON indexing (`data[field].as_string()`), which
compiles to `data ->> 'field'` on PostgreSQL and `json_extract(data, '$."field"')` on SQLite.
Lookups by primary key use the indexed `key` column instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.registries.models import Registry, RegistryRecord, RegistryRecordHistory, RegistryVersion
from govhub.registries.schemas import Actor


def visible_registries(actor: Actor) -> Select[tuple[Registry]]:
    """The registries this actor may manage: those of the agencies in its scope, no others.

    Officers see their agencies' registries (where they are registrar or data steward);
    agency systems see their own agency's. Other agencies' data goes through the exchange.
    """
    if not actor.agency_ids:
        return select(Registry).where(false())
    return select(Registry).where(Registry.agency_id.in_(sorted(actor.agency_ids)))


async def registry_by_code(session: AsyncSession, code: str) -> Registry | None:
    """Any registry by its code, whoever owns it (to tell 'not yours' from 'no such registry')."""
    return await session.scalar(select(Registry).where(Registry.code == code))


async def visible_registry(session: AsyncSession, actor: Actor, code: str) -> Registry | None:
    """The registry called code, if the actor may manage it."""
    return await session.scalar(visible_registries(actor).where(Registry.code == code))


async def version_of(session: AsyncSession, registry_id: str, version: str) -> RegistryVersion | None:
    """A version of a registry."""
    return await session.scalar(
        select(RegistryVersion).where(RegistryVersion.registry_id == registry_id, RegistryVersion.version == version)
    )


async def version_by_code(session: AsyncSession, registry_code: str, version: str) -> RegistryVersion | None:
    """A version found by registry code and version string, without scoping (internal callers)."""
    return await session.scalar(
        select(RegistryVersion)
        .join(Registry, Registry.id == RegistryVersion.registry_id)
        .where(Registry.code == registry_code, RegistryVersion.version == version)
    )


async def versions_of(session: AsyncSession, registry_id: str) -> Sequence[RegistryVersion]:
    """Every version of a registry, oldest first."""
    rows = await session.scalars(
        select(RegistryVersion).where(RegistryVersion.registry_id == registry_id).order_by(RegistryVersion.created_at)
    )
    return rows.all()


async def version_has_records(session: AsyncSession, version_id: str) -> bool:
    """True once any record (even a deleted one) was written to the version."""
    return bool(await session.scalar(select(exists().where(RegistryRecord.registry_version_id == version_id))))


async def version_has_live_records(session: AsyncSession, version_id: str) -> bool:
    """True if the version holds any live record."""
    return bool(await session.scalar(select(exists().where(*_live(version_id)))))


def _live(version_id: str) -> list[ColumnElement[bool]]:
    return [RegistryRecord.registry_version_id == version_id, RegistryRecord.deleted_at.is_(None)]


async def live_record_by_key(session: AsyncSession, version_id: str, key: str) -> RegistryRecord | None:
    """The live record with this primary-key value (served by the partial unique index)."""
    return await session.scalar(select(RegistryRecord).where(*_live(version_id), RegistryRecord.key == key))


async def live_record_by_key_or_id(session: AsyncSession, version_id: str, value: str) -> RegistryRecord | None:
    """The live record whose primary-key value, or else whose record id, is value."""
    record = await live_record_by_key(session, version_id, value)
    if record is None and len(value) == 36:
        record = await session.scalar(select(RegistryRecord).where(*_live(version_id), RegistryRecord.id == value))
    return record


async def existing_keys(session: AsyncSession, version_id: str, keys: Iterable[str]) -> set[str]:
    """Which of keys are already used by live records of the version."""
    wanted = list(keys)
    if not wanted:
        return set()
    rows = await session.scalars(select(RegistryRecord.key).where(*_live(version_id), RegistryRecord.key.in_(wanted)))
    return set(rows.all())


def field_condition(field: str, json_type: str, value: Any, *, primary_key: str) -> ColumnElement[bool]:
    """`data[field] == value`, compared as the schema's type; the primary key uses its column."""
    if field == primary_key:
        return RegistryRecord.key == str(value)
    element = RegistryRecord.data[field]
    if json_type == "integer":
        return element.as_integer() == value
    if json_type == "number":
        return element.as_float() == value
    if json_type == "boolean":
        return element.as_boolean() == value
    return element.as_string() == value


def search_condition(fields: Sequence[str], term: str) -> ColumnElement[bool]:
    """Any of the text fields contains term (case-insensitive, % and _ taken literally)."""
    return or_(*(RegistryRecord.data[field].as_string().icontains(term, autoescape=True) for field in fields))


def records_query(version_id: str, conditions: Sequence[ColumnElement[bool]]) -> Select[tuple[RegistryRecord]]:
    """Live records of a version matching every condition."""
    return select(RegistryRecord).where(*_live(version_id), and_(*conditions) if conditions else true())


async def count(session: AsyncSession, query: Select[tuple[RegistryRecord]]) -> int:
    """How many rows query returns."""
    return int(await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)


async def page(
    session: AsyncSession,
    query: Select[tuple[RegistryRecord]],
    *,
    order_by: Sequence[ColumnElement[Any]],
    offset: int,
    limit: int,
) -> Sequence[RegistryRecord]:
    """One page of query in the given order (ties broken by record id, so pages are stable)."""
    rows = await session.scalars(query.order_by(*order_by, RegistryRecord.id).offset(offset).limit(limit))
    return rows.all()


async def matching_records(
    session: AsyncSession, query: Select[tuple[RegistryRecord]], *, limit: int | None = None
) -> Sequence[RegistryRecord]:
    """Records of query in primary-key order, optionally only the first few."""
    statement = query.order_by(RegistryRecord.key, RegistryRecord.id)
    if limit is not None:
        statement = statement.limit(limit)
    return (await session.scalars(statement)).all()


async def lookup_data(session: AsyncSession, *, registry_code: str, version: str, key: str) -> dict[str, Any] | None:
    """One live record's data by registry code, version and key, in a single indexed query."""
    return await session.scalar(
        select(RegistryRecord.data)
        .join(RegistryVersion, RegistryVersion.id == RegistryRecord.registry_version_id)
        .join(Registry, Registry.id == RegistryVersion.registry_id)
        .where(
            Registry.code == registry_code,
            RegistryVersion.version == version,
            RegistryRecord.key == key,
            RegistryRecord.deleted_at.is_(None),
        )
    )


async def history_of(session: AsyncSession, record_id: str) -> Sequence[RegistryRecordHistory]:
    """A record's changes, oldest first."""
    rows = await session.scalars(
        select(RegistryRecordHistory)
        .where(RegistryRecordHistory.record_id == record_id)
        .order_by(RegistryRecordHistory.at, RegistryRecordHistory.id)
    )
    return rows.all()


async def latest_record_by_key_or_id(session: AsyncSession, version_id: str, value: str) -> RegistryRecord | None:
    """The newest record, live or deleted, whose primary-key value or record id is value."""
    rows = await session.scalars(
        select(RegistryRecord)
        .where(RegistryRecord.registry_version_id == version_id, or_(RegistryRecord.key == value, RegistryRecord.id == value))
        .order_by(RegistryRecord.created_at.desc())
        .limit(1)
    )
    return rows.first()
