"""The rules of the catalog: who may publish what, datasets and resources, their history.

One code path per operation: the CKAN Action API, the portal pages, the harvester and the
demo loader all call these functions (CKAN's logic/action layer). They flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.db import unit_of_work
from govhub.identity.models import OfficerRole
from govhub.kit.clock import utcnow
from govhub.kit.errors import Forbidden, NotFound
from govhub.kit.i18n import N_
from govhub.kit.ids import new_id
from govhub.opendata import repository, search, vocab
from govhub.opendata.models import (
    Dataset, DatasetGroup, DatasetRevision, DatasetState, DatasetTag, Group, IndexState, Organization, Resource,
)
from govhub.opendata.schemas import (
    ALL_TYPE_FIELDS, DatasetInvalid, Problems, check_governance, parse_package, parse_resource,
)

# Officer roles that may publish for their agency's organization (CKAN's editor capacity).
PUBLISHER_ROLES = frozenset({OfficerRole.DATA_STEWARD, OfficerRole.AGENCY_ADMIN})


class DatasetNotFound(NotFound):
    """No dataset by that id or name that the caller may see."""

    code = "dataset_not_found"
    message = N_("Dataset not found.")


class ResourceNotFound(NotFound):
    """No resource by that id that the caller may see."""

    code = "resource_not_found"
    message = N_("Resource not found.")


class NotPublisher(Forbidden):
    """The caller does not publish for that organization."""

    code = "not_authorized"
    message = N_("You may not publish or change datasets of this organization.")


@dataclass(frozen=True)
class Actor:
    """Who acts on the catalog: an account (with its organizations), or the system itself."""

    account_id: str | None
    is_admin: bool = False
    # Organizations the account publishes for, and those whose private datasets it may read.
    publisher_org_ids: frozenset[str] = frozenset()
    member_org_ids: frozenset[str] = frozenset()
    label: str = ""

    def may_publish(self, organization_id: str) -> bool:
        """True if the actor may create and change the organization's datasets."""
        return self.is_admin or organization_id in self.publisher_org_ids

    def may_read_private(self, organization_id: str) -> bool:
        """True if the actor may see the organization's private datasets and drafts."""
        return self.is_admin or organization_id in self.member_org_ids

    @property
    def readable_private_orgs(self) -> frozenset[str] | None:
        """Organizations whose private datasets the actor sees (None: every one)."""
        return None if self.is_admin else self.member_org_ids


ANONYMOUS = Actor(account_id=None)


def system_actor(label: str) -> Actor:
    """The platform itself (harvester, demo loader): may publish anywhere, named in history."""
    return Actor(account_id=None, is_admin=True, label=label)


async def actor_for(session: AsyncSession, caller: Any) -> Actor:
    """The catalog actor of a signed-in caller (identity.auth.Caller), or ANONYMOUS."""
    if caller is None:
        return ANONYMOUS
    agencies = caller.agency_roles
    organizations = await repository.organizations_of_agencies(session, list(agencies))
    publisher = frozenset(org.id for org in organizations if agencies[org.agency_id] & PUBLISHER_ROLES)
    member = frozenset(org.id for org in organizations)
    return Actor(account_id=caller.account.id, is_admin=caller.is_admin, publisher_org_ids=publisher,
                 member_org_ids=member, label=caller.account.full_name)


# ---------------------------------------------------------------- reading

def iso(value: datetime | date | None) -> str | None:
    """A time as CKAN writes it (naive UTC ISO 8601 with microseconds), a date as YYYY-MM-DD."""
    if value is None:
        return None
    if isinstance(value, datetime):
        # CKAN writes naive UTC timestamps with microseconds; clients parse exactly that.
        return value.replace(tzinfo=None).isoformat(timespec="microseconds")
    return value.isoformat()


def resource_url(resource: Resource) -> str:
    """A resource's public address: its link, or the platform's download route for uploads."""
    if resource.url_type == "upload":
        filename = (resource.url or "data").rsplit("/", 1)[-1] or "data"
        return f"{get_settings().public_url}/dataset/{resource.dataset_id}/resource/{resource.id}/download/{filename}"
    return resource.url


def resource_dict(resource: Resource, *, datastore_active: bool = False) -> dict[str, Any]:
    """A resource as CKAN's resource_show returns it."""
    return {
        "id": resource.id, "package_id": resource.dataset_id, "name": resource.name,
        "description": resource.description, "format": resource.format, "mimetype": resource.mimetype or None,
        "url": resource_url(resource), "url_type": resource.url_type, "size": resource.size,
        "hash": f"sha256:{resource.sha256}" if resource.sha256 else "", "position": resource.position,
        "state": resource.state, "created": iso(resource.created_at), "last_modified": iso(resource.last_modified),
        "datastore_active": datastore_active,
    }


def organization_dict(organization: Organization, *, package_count: int | None = None) -> dict[str, Any]:
    """An organization as CKAN's organization_show returns it (without its datasets)."""
    result = {
        "id": organization.id, "name": organization.name, "title": organization.title_th,
        "title_en": organization.title_en, "display_name": organization.title_th,
        "description": organization.description, "image_url": organization.image_url,
        "type": "organization", "is_organization": True, "state": "active" if organization.is_active else "deleted",
        "approval_status": "approved", "created": iso(organization.created_at),
    }
    if package_count is not None:
        result["package_count"] = package_count
    return result


def group_dict(group: Group, *, package_count: int | None = None) -> dict[str, Any]:
    """A group as CKAN's group_show returns it (without its datasets)."""
    result = {
        "id": group.id, "name": group.name, "title": group.title_th, "title_en": group.title_en,
        "display_name": group.title_th, "description": group.description, "image_url": group.image_url,
        "type": "group", "is_organization": False, "state": "active", "approval_status": "approved",
        "created": iso(group.created_at),
    }
    if package_count is not None:
        result["package_count"] = package_count
    return result


def package_dict(dataset: Dataset, groups: list[Group], *, datastore_ids: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A dataset as CKAN's package_show returns it, with the GDC fields at the top level."""
    licence = vocab.LICENSES_BY_ID.get(dataset.license_id)
    resources = [resource_dict(resource, datastore_active=resource.id in datastore_ids)
                 for resource in dataset.resources]
    tags = dataset.tag_names
    result: dict[str, Any] = {
        "id": dataset.id, "name": dataset.name, "title": dataset.title, "title_en": dataset.title_en,
        "notes": dataset.notes, "type": "dataset", "state": dataset.state.value, "private": dataset.private,
        "owner_org": dataset.organization_id, "organization": organization_dict(dataset.organization),
        "license_id": dataset.license_id, "license_title": licence.title if licence else dataset.license_id,
        "license_url": licence.url if licence else "", "isopen": bool(licence and licence.is_open),
        "url": dataset.url, "maintainer": dataset.maintainer, "maintainer_email": dataset.maintainer_email,
        "author": dataset.organization.title_th, "author_email": None, "version": None,
        "data_type": dataset.dataset_type, "objective": list(dataset.objectives),
        "update_frequency_unit": dataset.update_frequency_unit,
        "update_frequency_interval": dataset.update_frequency_interval,
        "geo_coverage": dataset.geo_coverage, "data_source": dataset.data_source,
        "data_format": list(dataset.data_formats), "data_category": dataset.data_category,
        "data_classification": dataset.data_classification, "data_language": list(dataset.data_languages),
        "high_value_dataset": dataset.high_value, "reference_data": dataset.reference_data,
        "allow_harvest": dataset.allow_harvest, "created_date": iso(dataset.data_created),
        "last_updated_date": iso(dataset.data_updated),
        "tags": [{"name": tag, "display_name": tag, "state": "active", "vocabulary_id": None} for tag in tags],
        "num_tags": len(tags),
        "groups": [{"id": group.id, "name": group.name, "title": group.title_th, "display_name": group.title_th,
                    "description": group.description, "image_display_url": group.image_url} for group in groups],
        "resources": resources, "num_resources": len(resources),
        "extras": [{"key": key, "value": value} for key, value in sorted(dataset.extras.items())],
        "metadata_created": iso(dataset.metadata_created), "metadata_modified": iso(dataset.metadata_modified),
        "creator_user_id": dataset.creator_account_id, "revision": dataset.revision,
        "relationships_as_object": [], "relationships_as_subject": [],
    }
    for name in ALL_TYPE_FIELDS:
        if name in dataset.type_fields:
            result[name] = dataset.type_fields[name]
    return result


def may_read(actor: Actor, dataset: Dataset) -> bool:
    """Public active datasets for everyone; private ones and drafts for their organization."""
    if dataset.state == DatasetState.DELETED:
        return actor.may_publish(dataset.organization_id)
    if dataset.private or dataset.state == DatasetState.DRAFT:
        return actor.may_read_private(dataset.organization_id)
    return True


async def get_dataset(session: AsyncSession, actor: Actor, id_or_name: str) -> Dataset:
    """A dataset the actor may see, by id or URL name (404 otherwise, even if it exists)."""
    dataset = await repository.dataset_by_id_or_name(session, id_or_name)
    if dataset is None or not may_read(actor, dataset):
        raise DatasetNotFound()
    return dataset


async def package_show(session: AsyncSession, actor: Actor, id_or_name: str) -> dict[str, Any]:
    """package_show: the dataset's package dict."""
    dataset = await get_dataset(session, actor, id_or_name)
    return await package_dict_of(session, dataset)


async def package_dict_of(session: AsyncSession, dataset: Dataset) -> dict[str, Any]:
    """The package dict of a loaded dataset (its groups and datastore flags looked up)."""
    groups = await repository.groups_by_ids(session, [link.group_id for link in dataset.group_links])
    active = await repository.datastore_active_ids(session, [resource.id for resource in dataset.resources])
    return package_dict(dataset, groups, datastore_ids=active)


async def package_dicts(session: AsyncSession, datasets: list[Dataset]) -> list[dict[str, Any]]:
    """Package dicts of many datasets with two queries in all (search results, lists)."""
    group_ids = {link.group_id for dataset in datasets for link in dataset.group_links}
    groups = {group.id: group for group in await repository.groups_by_ids(session, list(group_ids))}
    active = await repository.datastore_active_ids(
        session, [resource.id for dataset in datasets for resource in dataset.resources])
    return [package_dict(dataset, sorted((groups[link.group_id] for link in dataset.group_links
                                          if link.group_id in groups), key=lambda group: group.name),
                         datastore_ids=active)
            for dataset in datasets]


async def facet_titles(session: AsyncSession, facets: dict[str, dict[str, int]]) -> dict[tuple[str, str], str]:
    """Display names of facet values: organization and group titles (one query), vocabulary labels."""
    titles = await repository.titles_by_names(session, list(facets.get("organization", {})),
                                              list(facets.get("groups", {})))
    for field, vocabulary in (("data_type", vocab.DATASET_TYPES), ("data_category", vocab.DATA_CATEGORIES)):
        for code in facets.get(field, {}):
            titles[(field, code)] = vocabulary.label(code)
    for licence_id in facets.get("license_id", {}):
        licence = vocab.LICENSES_BY_ID.get(licence_id)
        if licence is not None:
            titles[("license_id", licence_id)] = licence.title
    return titles


def revision_was_public(revision: DatasetRevision) -> bool:
    """True if the dataset was public and active after this change (outsiders may see it)."""
    return revision.snapshot.get("state") == "active" and revision.snapshot.get("private") is False


def revision_dict(revision: DatasetRevision, *, actor: str | None = None) -> dict[str, Any]:
    """A revision as an activity (CKAN's package_activity_list entry); actor replaces the person's name."""
    return {
        "id": revision.id, "package_id": revision.dataset_id, "revision": revision.number,
        "activity_type": f"{'new' if revision.action == 'created' else 'changed'} package",
        "action": revision.action, "user_id": None if actor is not None else revision.actor_account_id,
        "actor": actor if actor is not None else revision.actor_label,
        "timestamp": iso(revision.at), "changes": revision.changes,
        "data": {"package": revision.snapshot},
    }


async def get_resource(session: AsyncSession, actor: Actor, resource_id: str) -> tuple[Resource, Dataset]:
    """An active resource of a dataset the actor may see."""
    resource = await session.get(Resource, resource_id) if isinstance(resource_id, str) else None
    if resource is None or resource.state != "active":
        raise ResourceNotFound()
    dataset = await session.get(Dataset, resource.dataset_id)
    if dataset is None or not may_read(actor, dataset):
        raise ResourceNotFound()
    return resource, dataset


# ---------------------------------------------------------------- writing

async def _organization_for(session: AsyncSession, id_or_name: str) -> Organization:
    organization = await repository.organization_by_id_or_name(session, id_or_name)
    if organization is None or not organization.is_active:
        raise DatasetInvalid({"owner_org": [N_("Organization does not exist")]})
    return organization


async def _groups_for(session: AsyncSession, names: list[str]) -> list[Group]:
    groups = []
    for name in names:
        group = await repository.group_by_id_or_name(session, name)
        if group is None:
            raise DatasetInvalid({"groups": [N_("Group does not exist")]})
        groups.append(group)
    return groups


def require_publisher(actor: Actor, organization_id: str) -> None:
    """Refuse (403) unless the actor publishes for the organization."""
    if not actor.may_publish(organization_id):
        raise NotPublisher()


async def _check_name_free(session: AsyncSession, name: str, *, except_id: str | None = None) -> None:
    existing = await repository.dataset_by_name(session, name)
    if existing is not None and existing.id != except_id:
        raise DatasetInvalid({"name": [N_("That URL is already in use.")]})


async def package_create(session: AsyncSession, actor: Actor, data: dict[str, Any]) -> Dataset:
    """package_create: a new dataset (a draft if state=draft), recorded as revision 1."""
    parsed = parse_package(data, creating=True)
    organization = await _organization_for(session, parsed.owner_org or "")
    require_publisher(actor, organization.id)
    await _check_name_free(session, parsed.values["name"])
    check_governance(parsed.values)
    groups = await _groups_for(session, parsed.groups or [])
    values = dict(parsed.values)
    values.setdefault("state", DatasetState.ACTIVE)
    values["state"] = DatasetState(values["state"])
    now = utcnow()
    dataset = Dataset(**values, organization_id=organization.id, creator_account_id=actor.account_id,
                      metadata_created=now, metadata_modified=now, revision=1)
    dataset.organization = organization
    dataset.tags = [DatasetTag(name=tag) for tag in parsed.tags or []]
    dataset.group_links = [DatasetGroup(group_id=group.id) for group in groups]
    session.add(dataset)
    await session.flush()
    for position, item in enumerate(parsed.resources or []):
        _add_link_resource(session, dataset, item, position)
    await session.flush()
    await _refresh(session, dataset)
    await record_change(session, actor, dataset, action="created", before=None)
    return dataset


def _add_link_resource(session: AsyncSession, dataset: Dataset, item: Any, position: int) -> Resource:
    if not isinstance(item, dict):
        raise DatasetInvalid({"resources": [N_("Each resource must be an object")]})
    values = parse_resource(item, creating=True, is_upload=False)
    resource = Resource(dataset_id=dataset.id, position=position, **values)
    session.add(resource)
    return resource


async def _refresh(session: AsyncSession, dataset: Dataset) -> None:
    await session.refresh(dataset, ["resources", "tags", "group_links", "organization"])


async def package_update(session: AsyncSession, actor: Actor, data: dict[str, Any], *, patch: bool = False) -> Dataset:
    """package_update (replace every field) or package_patch (only the fields given)."""
    if not isinstance(data, dict) or not data.get("id") and not data.get("name"):
        raise DatasetInvalid({"id": [N_("Missing value")]})
    dataset = await get_dataset(session, actor, str(data.get("id") or data.get("name")))
    require_publisher(actor, dataset.organization_id)
    before = await package_dict_of(session, dataset)
    merged = {**_editable(before), **data} if patch else {**data}
    if not patch:
        merged.setdefault("name", dataset.name)
        merged.setdefault("owner_org", dataset.organization_id)
    merged["_current_type"] = dataset.dataset_type
    parsed = parse_package(merged, creating=not patch)
    organization = dataset.organization
    if parsed.owner_org and parsed.owner_org not in (dataset.organization_id, dataset.organization.name):
        organization = await _organization_for(session, parsed.owner_org)
        require_publisher(actor, organization.id)  # moving a dataset needs both organizations
    if "name" in parsed.values:
        await _check_name_free(session, parsed.values["name"], except_id=dataset.id)
    check_governance({**_current_values(dataset), **parsed.values})
    for attr, value in parsed.values.items():
        setattr(dataset, attr, DatasetState(value) if attr == "state" else value)
    dataset.organization_id, dataset.organization = organization.id, organization
    if parsed.tags is not None:
        await _replace_tags(session, dataset, parsed.tags)
    if parsed.groups is not None:
        groups = await _groups_for(session, parsed.groups)
        dataset.group_links = [DatasetGroup(group_id=group.id) for group in groups]
    if parsed.resources is not None and not patch:
        await _replace_resources(session, dataset, parsed.resources)
    await session.flush()
    await _refresh(session, dataset)
    await record_change(session, actor, dataset, action="updated", before=before)
    return dataset


def _editable(package: dict[str, Any]) -> dict[str, Any]:
    # package_patch starts from the current dict; resources are patched through resource_*.
    return {key: value for key, value in package.items() if key not in ("resources",)}


def _current_values(dataset: Dataset) -> dict[str, Any]:
    return {"data_category": dataset.data_category, "data_classification": dataset.data_classification,
            "private": dataset.private}


async def _replace_tags(session: AsyncSession, dataset: Dataset, tags: list[str]) -> None:
    current = {tag.name: tag for tag in dataset.tags}
    dataset.tags = [current.get(name) or DatasetTag(dataset_id=dataset.id, name=name) for name in tags]


async def _replace_resources(session: AsyncSession, dataset: Dataset, items: list[dict[str, Any]]) -> None:
    """package_update with resources: keep those sent back by id, add new links, delete the rest."""
    kept: set[str] = set()
    existing = {resource.id: resource for resource in dataset.resources}
    for position, item in enumerate(items):
        if isinstance(item, dict) and item.get("id") in existing:
            resource = existing[item["id"]]
            values = parse_resource(item, creating=False, is_upload=resource.url_type == "upload")
            for attr, value in values.items():
                setattr(resource, attr, value)
            resource.position = position
            kept.add(resource.id)
        else:
            kept.add(_add_link_resource(session, dataset, item, position).id)
    for resource_id, resource in existing.items():
        if resource_id not in kept:
            resource.state = "deleted"


async def package_delete(session: AsyncSession, actor: Actor, id_or_name: str) -> None:
    """package_delete: the dataset becomes deleted (kept with its history, hidden, out of search)."""
    dataset = await get_dataset(session, actor, id_or_name)
    require_publisher(actor, dataset.organization_id)
    before = await package_dict_of(session, dataset)
    dataset.state = DatasetState.DELETED
    await session.flush()
    await record_change(session, actor, dataset, action="deleted", before=before)


async def record_change(session: AsyncSession, actor: Actor, dataset: Dataset, *, action: str,
                        before: dict[str, Any] | None) -> None:
    """Bump the revision, record who changed what, and refresh the search index."""
    dataset.metadata_modified = utcnow()
    if before is not None:
        dataset.revision += 1
    after = await package_dict_of(session, dataset)
    # A new dataset's revision is its snapshot; later ones also list what changed.
    changes = diff_packages(before, after) if before is not None else {}
    session.add(DatasetRevision(
        dataset_id=dataset.id, number=dataset.revision, action=action, actor_account_id=actor.account_id,
        actor_label=actor.label, changes=changes, snapshot=after,
    ))
    await session.flush()
    await reindex(session, dataset)


IGNORED_IN_DIFF = frozenset({"metadata_modified", "revision", "num_resources", "num_tags", "organization"})


def diff_packages(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Each changed field with its old and new value (resources compared by their own fields)."""
    changes: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        if key in IGNORED_IN_DIFF:
            continue
        old, new = before.get(key), after.get(key)
        if key == "resources":
            old = [{k: v for k, v in r.items() if k != "datastore_active"} for r in old or []]
            new = [{k: v for k, v in r.items() if k != "datastore_active"} for r in new or []]
        if old != new:
            changes[key] = [old, new]
    return changes


async def reindex(session: AsyncSession, dataset: Dataset) -> None:
    """Bring the dataset's search document and facets up to date (removed unless active or draft)."""
    if dataset.state == DatasetState.DELETED:
        await search.remove_dataset(session, dataset.id)
        return
    groups = await repository.groups_by_ids(session, [link.group_id for link in dataset.group_links])
    await search.index_dataset(
        session, dataset, organization_name=dataset.organization.name,
        organization_title=f"{dataset.organization.title_th} {dataset.organization.title_en}",
        group_names=[group.name for group in groups],
        group_titles=[f"{group.title_th} {group.title_en}" for group in groups],
    )


async def reindex_catalog(batch: int = 500) -> int:
    """Rewrite every dataset's search document, facets and index entry, batch by batch.

    For an upgrade from a catalog indexed before the in-memory engine's entries existed, to
    repair an index, or after restoring a backup; marks the index complete at the end, under a
    new generation. Returns the number of datasets.
    """
    done, after = 0, ""
    while True:
        async with unit_of_work() as session:
            # Locked before the batch is read: an edit committed after the read would otherwise be
            # overwritten by the batch's older copy (with a newer sequence number).
            await search.lock_index(session)
            datasets = (await session.scalars(
                select(Dataset).where(Dataset.id > after).order_by(Dataset.id).limit(batch))).unique().all()
            for dataset in datasets:
                await reindex(session, dataset)
        if not datasets:
            break
        after, done = datasets[-1].id, done + len(datasets)
    async with unit_of_work() as session:
        # A new generation: every process rebuilds its index from the rewritten entries (also what
        # brings processes back in step after a database is restored from a backup).
        await session.execute(update(IndexState).where(IndexState.id == 1).values(complete=True, generation=new_id()))
    return done


async def history(session: AsyncSession, actor: Actor, id_or_name: str) -> list[DatasetRevision]:
    """Every recorded change of a dataset, newest first (publishers see them all)."""
    dataset = await get_dataset(session, actor, id_or_name)
    return await repository.revisions_of(session, dataset.id)


# ---------------------------------------------------------------- organizations and groups

async def ensure_organization_for_agency(session: AsyncSession, *, agency: Any, name: str,
                                         description: str = "") -> Organization:
    """The open-data organization of a platform agency, created on first use."""
    organization = await repository.organization_by_agency(session, agency.id)
    if organization is None:
        organization = Organization(name=name, title_th=agency.name_th, title_en=agency.name_en,
                                    description=description, agency_id=agency.id)
        session.add(organization)
        await session.flush()
    return organization


async def create_group(session: AsyncSession, *, name: str, title_th: str, title_en: str,
                       description: str = "") -> Group:
    """A theme datasets can be filed under (admins only; checked by the caller)."""
    problems = Problems()
    if not search_name_ok(name):
        problems.add("name", N_("Must be 2 to 100 lower-case letters, digits, - or _"))
    if await repository.group_by_id_or_name(session, name) is not None:
        problems.add("name", N_("That URL is already in use."))
    problems.raise_if_any()
    group = Group(name=name, title_th=title_th, title_en=title_en, description=description)
    session.add(group)
    await session.flush()
    return group


def search_name_ok(name: str) -> bool:
    """True for a valid URL name."""
    from govhub.opendata.schemas import NAME_PATTERN

    return bool(NAME_PATTERN.match(name or ""))


async def counts_by_organization(session: AsyncSession) -> dict[str, int]:
    """Public active datasets per organization id."""
    rows = await session.execute(
        select(Dataset.organization_id, func.count()).where(
            Dataset.state == DatasetState.ACTIVE, Dataset.private.is_(False)).group_by(Dataset.organization_id))
    return dict(rows.all())  # type: ignore[arg-type]
