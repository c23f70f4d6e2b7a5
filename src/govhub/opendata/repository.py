"""Every query of the catalog; visibility rules live in `service.may_read` and `search`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.opendata.models import (
    Dataset, DatasetGroup, DatasetRevision, DatasetState, DatasetTag, DatastoreStatus, DatastoreTable, Group,
    Organization,
)


async def dataset_by_id_or_name(session: AsyncSession, id_or_name: str) -> Dataset | None:
    """A dataset (any state) by id or URL name."""
    if not isinstance(id_or_name, str) or not id_or_name:
        return None
    # The id first: a name can never take over another dataset's id.
    by_id = await session.get(Dataset, id_or_name)
    return by_id if by_id is not None else await dataset_by_name(session, id_or_name)


async def dataset_by_name(session: AsyncSession, name: str) -> Dataset | None:
    """A dataset (any state) by URL name."""
    return (await session.execute(select(Dataset).where(Dataset.name == name))).scalars().first()


async def datasets_by_ids(session: AsyncSession, ids: Sequence[str]) -> list[Dataset]:
    """Datasets by id, in the order given."""
    if not ids:
        return []
    found = {d.id: d for d in (await session.execute(select(Dataset).where(Dataset.id.in_(ids)))).scalars()}
    return [found[i] for i in ids if i in found]


async def organization_by_id_or_name(session: AsyncSession, id_or_name: str) -> Organization | None:
    """An organization by id or URL name."""
    if not isinstance(id_or_name, str) or not id_or_name:
        return None
    statement = select(Organization).where(or_(Organization.id == id_or_name, Organization.name == id_or_name))
    return (await session.execute(statement)).scalars().first()


async def titles_by_names(session: AsyncSession, organization_names: Sequence[str],
                          group_names: Sequence[str]) -> dict[tuple[str, str], str]:
    """Thai titles of organizations and groups by URL name, in one query and without loading models.

    Facets show up to 50 organizations per search: as models they cost more than the search.
    """
    parts = []
    if organization_names:
        parts.append(select(literal("organization").label("field"), Organization.name, Organization.title_th)
                     .where(Organization.name.in_(organization_names)))
    if group_names:
        parts.append(select(literal("groups").label("field"), Group.name, Group.title_th)
                     .where(Group.name.in_(group_names)))
    if not parts:
        return {}
    rows = await session.execute(union_all(*parts) if len(parts) > 1 else parts[0])
    return {(field, name): title for field, name, title in rows.tuples()}


async def organization_by_agency(session: AsyncSession, agency_id: str) -> Organization | None:
    """The organization of a platform agency."""
    return (await session.execute(select(Organization).where(Organization.agency_id == agency_id))).scalars().first()


async def organizations_of_agencies(session: AsyncSession, agency_ids: list[str]) -> list[Organization]:
    """Organizations of the given agencies."""
    if not agency_ids:
        return []
    statement = select(Organization).where(Organization.agency_id.in_(agency_ids), Organization.is_active.is_(True))
    return list((await session.execute(statement)).scalars())


async def organizations(session: AsyncSession) -> list[Organization]:
    """Active organizations, by name."""
    statement = select(Organization).where(Organization.is_active.is_(True)).order_by(Organization.name)
    return list((await session.execute(statement)).scalars())


async def group_by_id_or_name(session: AsyncSession, id_or_name: str) -> Group | None:
    """A group by id or URL name."""
    if not isinstance(id_or_name, str) or not id_or_name:
        return None
    statement = select(Group).where(or_(Group.id == id_or_name, Group.name == id_or_name))
    return (await session.execute(statement)).scalars().first()


async def groups(session: AsyncSession) -> list[Group]:
    """Every group, by name."""
    return list((await session.execute(select(Group).order_by(Group.name))).scalars())


async def groups_by_ids(session: AsyncSession, ids: Sequence[str]) -> list[Group]:
    """Groups by id, ordered by name."""
    if not ids:
        return []
    return list((await session.execute(select(Group).where(Group.id.in_(ids)).order_by(Group.name))).scalars())


async def group_counts(session: AsyncSession) -> dict[str, int]:
    """Public active datasets per group id."""
    statement = (
        select(DatasetGroup.group_id, func.count())
        .join(Dataset, Dataset.id == DatasetGroup.dataset_id)
        .where(Dataset.state == DatasetState.ACTIVE, Dataset.private.is_(False))
        .group_by(DatasetGroup.group_id)
    )
    return dict((await session.execute(statement)).all())  # type: ignore[arg-type]


async def public_dataset_names(session: AsyncSession, *, limit: int, offset: int) -> list[str]:
    """URL names of public active datasets, by name (package_list)."""
    statement = (
        select(Dataset.name).where(Dataset.state == DatasetState.ACTIVE, Dataset.private.is_(False))
        .order_by(Dataset.name).offset(offset).limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def recent_public_datasets(session: AsyncSession, *, limit: int, offset: int) -> list[Dataset]:
    """Public active datasets, most recently modified first."""
    statement = (
        select(Dataset).where(Dataset.state == DatasetState.ACTIVE, Dataset.private.is_(False))
        .order_by(Dataset.metadata_modified.desc(), Dataset.id).offset(offset).limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def tag_names(session: AsyncSession, *, query: str | None, limit: int) -> list[str]:
    """Keywords of public active datasets (optionally starting with query), by name."""
    statement = (
        select(DatasetTag.name).join(Dataset, Dataset.id == DatasetTag.dataset_id)
        .where(Dataset.state == DatasetState.ACTIVE, Dataset.private.is_(False))
        .group_by(DatasetTag.name).order_by(DatasetTag.name).limit(limit)
    )
    if query:
        statement = statement.where(DatasetTag.name.startswith(query, autoescape=True))
    return list((await session.execute(statement)).scalars())


async def revisions_of(session: AsyncSession, dataset_id: str) -> list[DatasetRevision]:
    """A dataset's revisions, newest first."""
    statement = select(DatasetRevision).where(DatasetRevision.dataset_id == dataset_id).order_by(
        DatasetRevision.number.desc())
    return list((await session.execute(statement)).scalars())


async def datastore_active_ids(session: AsyncSession, resource_ids: Sequence[str]) -> frozenset[str]:
    """Which of the resources have a loaded datastore table."""
    if not resource_ids:
        return frozenset()
    statement = select(DatastoreTable.resource_id).where(
        DatastoreTable.resource_id.in_(resource_ids), DatastoreTable.status == DatastoreStatus.ACTIVE)
    return frozenset((await session.execute(statement)).scalars())
