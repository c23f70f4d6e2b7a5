"""The CKAN actions govhub answers: one function per action name, as in ckan/logic/action.

Each takes (session, context, data_dict) and returns the action's result; the HTTP layer
(`api.py`) wraps it in CKAN's envelope. Authorization is inside each action through
`service`, so the same rules hold for the pages and the harvester.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import govhub
from govhub.config import get_settings
from govhub.identity import api_tokens
from govhub.identity.auth import Caller
from govhub.kit.errors import Forbidden, NotAuthenticated, NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.opendata import repository, resources, search, service, vocab
from govhub.opendata.schemas import DatasetInvalid

MAX_ROWS = 1000
MAX_LIST = 1000
MAX_QUERY_CHARACTERS = 500
# Beyond this, paging is a crawl: harvesters use metadata_modified, not offsets.
MAX_OFFSET = 1_000_000


@dataclass(frozen=True)
class Context:
    """Who calls, and how."""

    actor: service.Actor
    caller: Caller | None
    upload: resources.Upload | None = None
    via_token: bool = False


Action = Callable[[AsyncSession, Context, dict[str, Any]], Awaitable[Any]]
ACTIONS: dict[str, Action] = {}
# Actions that change state: POST only (CKAN refuses them over GET).
WRITE_ACTIONS: set[str] = set()


def action(name: str, *, write: bool = False) -> Callable[[Action], Action]:
    """Register a function as the CKAN action `name`."""

    def register(function: Action) -> Action:
        ACTIONS[name] = function
        if write:
            WRITE_ACTIONS.add(name)
        return function

    return register


# ---------------------------------------------------------------- parameters

def _int(data: dict[str, Any], name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    value = data.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DatasetInvalid({name: [N_("Must be a whole number")]}) from None
    if number < minimum or (maximum is not None and number > maximum):
        raise DatasetInvalid({name: [N_("Out of range")]})
    return number


def _flag(data: dict[str, Any], name: str, default: bool = False) -> bool:
    value = data.get(name, default)
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def _list(value: Any, name: str) -> list[str]:
    """A list given as a JSON array, a JSON-looking string (CKAN's GET style) or repeated values."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise DatasetInvalid({name: [N_("Must be a list")]}) from None
        else:
            value = [text]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DatasetInvalid({name: [N_("Must be a list")]})
    return value


def _id(data: dict[str, Any], name: str = "id") -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise DatasetInvalid({name: [N_("Missing value")]})
    return value


# ---------------------------------------------------------------- site

@action("site_read")
async def site_read(session: AsyncSession, context: Context, data: dict[str, Any]) -> bool:
    """site_read: the site may be read."""
    return True


@action("status_show")
async def status_show(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """status_show: what this site is, in CKAN's words."""
    settings = get_settings()
    return {
        # Clients (ckanapi, harvesters) branch on the CKAN version they talk to: 2.10's API is what we speak.
        "ckan_version": "2.10.4", "govhub_version": govhub.__version__, "site_url": settings.public_url,
        "site_title": "govhub Open Data", "site_description": "Thai government open data catalog",
        "error_emails_to": None, "locale_default": "th",
        "extensions": ["thai_gdc", "datastore", "dcat", "activity"],
    }


@action("license_list")
async def license_list(session: AsyncSession, context: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """license_list: the licences datasets may use."""
    return [{"id": licence.id, "title": licence.title, "title_th": licence.title_th, "url": licence.url,
             "od_conformance": licence.od_conformance, "osd_conformance": "not reviewed",
             "status": "active", "maintainer": "", "family": "", "domain_content": False, "domain_data": True,
             "domain_software": False, "is_okd_compliant": licence.is_open, "is_osi_compliant": False}
            for licence in vocab.LICENSES]


# ---------------------------------------------------------------- datasets

@action("package_list")
async def package_list(session: AsyncSession, context: Context, data: dict[str, Any]) -> list[str]:
    """package_list: URL names of public datasets."""
    limit = _int(data, "limit", MAX_LIST, minimum=1, maximum=MAX_LIST)
    return await repository.public_dataset_names(session, limit=limit,
                                                 offset=_int(data, "offset", 0, maximum=MAX_OFFSET))


@action("current_package_list_with_resources")
async def current_package_list_with_resources(session: AsyncSession, context: Context,
                                              data: dict[str, Any]) -> list[dict[str, Any]]:
    """current_package_list_with_resources: public datasets, latest change first."""
    limit = _int(data, "limit", 10, minimum=1, maximum=MAX_ROWS)
    datasets = await repository.recent_public_datasets(session, limit=limit,
                                                       offset=_int(data, "offset", 0, maximum=MAX_OFFSET))
    return await service.package_dicts(session, datasets)


@action("package_show")
async def package_show(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """package_show: one dataset by id or name."""
    return await service.package_show(session, context.actor, _id(data))


@action("package_search")
async def package_search(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """package_search: ranked, filtered, faceted search (CKAN's Solr parameters)."""
    q = str(data.get("q") or "")
    if len(q) > MAX_QUERY_CHARACTERS:
        raise DatasetInvalid({"q": [N_("The search words are too long")]})
    query = search.SearchQuery(
        q=q,
        filters=[pair for fq in [str(data.get("fq") or ""), *_list(data.get("fq_list"), "fq_list")]
                 for pair in search.parse_fq(fq)],
        facet_fields=_list(data.get("facet.field"), "facet.field") if _flag(data, "facet", True) else [],
        facet_limit=_int(data, "facet.limit", 50, minimum=-1, maximum=search.MAX_FACET_LIMIT),
        rows=_int(data, "rows", 10, minimum=0, maximum=MAX_ROWS),
        start=_int(data, "start", 0, maximum=MAX_OFFSET),
        sort=str(data.get("sort") or ("score desc" if data.get("q") else "metadata_modified desc")).strip().lower(),
        private_org_ids=context.actor.readable_private_orgs,
        include_private=_flag(data, "include_private"),
        include_drafts=_flag(data, "include_drafts"),
    )
    if query.facet_limit < 0:
        query.facet_limit = search.MAX_FACET_LIMIT
    for name in query.facet_fields:
        if name not in search.FACET_FIELDS:
            raise ValidationFailed(N_("Cannot count facets of %(name)s"), field="facet.field",
                                   code="search_query_error", name=name)
    result = await search.search(session, query)
    datasets = await repository.datasets_by_ids(session, result.ids)
    return {
        "count": result.count, "sort": query.sort,
        "results": await service.package_dicts(session, datasets),
        "facets": result.facets,
        "search_facets": await _search_facets(session, result.facets),
    }


async def _search_facets(session: AsyncSession, facets: dict[str, dict[str, int]]) -> dict[str, Any]:
    """CKAN's search_facets: each value with a display name (organization and group titles)."""
    titles = await service.facet_titles(session, facets)
    return {
        name: {"title": name, "items": [{"name": value, "display_name": titles.get((name, value), value), "count": n}
                                        for value, n in values.items()]}
        for name, values in facets.items()
    }


@action("package_create", write=True)
async def package_create(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """package_create: a new dataset."""
    dataset = await service.package_create(session, _publisher(context), data)
    return await service.package_dict_of(session, dataset)


@action("package_update", write=True)
async def package_update(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """package_update: replace a dataset's metadata."""
    dataset = await service.package_update(session, _publisher(context), data)
    return await service.package_dict_of(session, dataset)


@action("package_patch", write=True)
async def package_patch(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """package_patch: change only the fields given."""
    dataset = await service.package_update(session, _publisher(context), data, patch=True)
    return await service.package_dict_of(session, dataset)


@action("package_delete", write=True)
async def package_delete(session: AsyncSession, context: Context, data: dict[str, Any]) -> None:
    """package_delete: mark a dataset deleted."""
    await service.package_delete(session, _publisher(context), _id(data))


@action("package_activity_list")
async def package_activity_list(session: AsyncSession, context: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """package_activity_list: who changed the dataset, when, and what."""
    dataset = await service.get_dataset(session, context.actor, _id(data))
    revisions = await service.history(session, context.actor, dataset.id)
    limit = _int(data, "limit", 31, minimum=1, maximum=100)
    offset = _int(data, "offset", 0, maximum=MAX_OFFSET)
    if not context.actor.may_read_private(dataset.organization_id):
        # Outsiders see the public record only: no officer's name, nothing from private or draft times.
        revisions = [revision for revision in revisions if service.revision_was_public(revision)]
        return [service.revision_dict(revision, actor=dataset.organization.title_th)
                for revision in revisions[offset:offset + limit]]
    return [service.revision_dict(revision) for revision in revisions[offset:offset + limit]]


def _publisher(context: Context) -> service.Actor:
    if context.caller is None:
        raise NotAuthenticated()
    return context.actor


# ---------------------------------------------------------------- resources

@action("resource_show")
async def resource_show(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """resource_show: one resource."""
    resource, _dataset = await service.get_resource(session, context.actor, _id(data))
    active = await repository.datastore_active_ids(session, [resource.id])
    return service.resource_dict(resource, datastore_active=resource.id in active)


@action("resource_create", write=True)
async def resource_create(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """resource_create: a link, or an uploaded file (multipart field `upload`)."""
    resource = await resources.resource_create(session, _publisher(context), data, context.upload)
    return service.resource_dict(resource)


@action("resource_update", write=True)
async def resource_update(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """resource_update: new metadata, link or file."""
    resource = await resources.resource_update(session, _publisher(context), data, context.upload)
    return service.resource_dict(resource)


@action("resource_patch", write=True)
async def resource_patch(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """resource_patch: as resource_update (only the fields given change)."""
    return await resource_update(session, context, data)


@action("resource_delete", write=True)
async def resource_delete(session: AsyncSession, context: Context, data: dict[str, Any]) -> None:
    """resource_delete: remove a resource from its dataset."""
    await resources.resource_delete(session, _publisher(context), _id(data))


# ---------------------------------------------------------------- organizations, groups, tags

def _listing(items: list[Any], counts: dict[str, int], data: dict[str, Any],
             as_dict: Callable[..., dict[str, Any]]) -> list[Any]:
    """organization_list / group_list: a page of names, or of dicts with all_fields."""
    limit = _int(data, "limit", MAX_LIST, minimum=1, maximum=MAX_LIST)
    offset = _int(data, "offset", 0, maximum=MAX_OFFSET)
    chosen = items[offset:offset + limit]
    if _flag(data, "all_fields"):
        return [as_dict(item, package_count=counts.get(item.id, 0)) for item in chosen]
    return [item.name for item in chosen]


async def _with_datasets(session: AsyncSession, context: Context, result: dict[str, Any], data: dict[str, Any],
                         filters: list[tuple[str, str]]) -> dict[str, Any]:
    """Add the datasets the caller may see (include_datasets), by name."""
    if _flag(data, "include_datasets"):
        found = await search.search(session, search.SearchQuery(
            filters=filters, rows=MAX_ROWS, sort="name asc",
            private_org_ids=context.actor.readable_private_orgs, include_private=True))
        result["packages"] = await service.package_dicts(session, await repository.datasets_by_ids(session, found.ids))
    return result


@action("organization_list")
async def organization_list(session: AsyncSession, context: Context, data: dict[str, Any]) -> list[Any]:
    """organization_list: names, or dicts with all_fields."""
    return _listing(await repository.organizations(session), await service.counts_by_organization(session), data,
                    service.organization_dict)


@action("organization_show")
async def organization_show(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """organization_show: one organization, with its datasets if include_datasets."""
    organization = await repository.organization_by_id_or_name(session, _id(data))
    if organization is None:
        raise NotFound(N_("Organization not found."))
    counts = await service.counts_by_organization(session)
    result = service.organization_dict(organization, package_count=counts.get(organization.id, 0))
    return await _with_datasets(session, context, result, data, [("owner_org", organization.id)])


@action("group_list")
async def group_list(session: AsyncSession, context: Context, data: dict[str, Any]) -> list[Any]:
    """group_list: names, or dicts with all_fields."""
    return _listing(await repository.groups(session), await repository.group_counts(session), data,
                    service.group_dict)


@action("group_show")
async def group_show(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """group_show: one group, with its datasets if include_datasets."""
    group = await repository.group_by_id_or_name(session, _id(data))
    if group is None:
        raise NotFound(N_("Group not found."))
    counts = await repository.group_counts(session)
    result = service.group_dict(group, package_count=counts.get(group.id, 0))
    return await _with_datasets(session, context, result, data, [("groups", group.name)])


@action("tag_list")
async def tag_list(session: AsyncSession, context: Context, data: dict[str, Any]) -> list[Any]:
    """tag_list: keywords of public datasets (query: those starting with it)."""
    names = await repository.tag_names(session, query=str(data.get("query") or "") or None,
                                       limit=_int(data, "limit", MAX_LIST, minimum=1, maximum=MAX_LIST))
    if _flag(data, "all_fields"):
        return [{"id": name, "name": name, "display_name": name, "vocabulary_id": None} for name in names]
    return names


# ---------------------------------------------------------------- datastore

async def _readable_datastore_resource(session: AsyncSession, context: Context, resource_id: str) -> None:
    await service.get_resource(session, context.actor, resource_id)


@action("datastore_search")
async def datastore_search(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """datastore_search: rows of a loaded resource, filtered, searched, sorted and paged."""
    from govhub.opendata import datastore

    resource_id = _id(data, "resource_id")
    await _readable_datastore_resource(session, context, resource_id)
    filters = data.get("filters")
    if isinstance(filters, str):
        try:
            filters = json.loads(filters)
        except ValueError:
            raise DatasetInvalid({"filters": [N_("Must be a JSON object")]}) from None
    q = data.get("q")
    if len(json.dumps(q, ensure_ascii=False)) > 200 or (isinstance(q, str) and len(q.split()) > 10):
        raise DatasetInvalid({"q": [N_("Search at most 10 words (200 characters) at a time")]})
    if isinstance(q, str) and q.strip().startswith("{"):
        try:
            q = json.loads(q)
        except ValueError:
            pass
    return await datastore.datastore_search(
        resource_id=resource_id, filters=filters, q=q, fields=data.get("fields"),
        sort=data.get("sort"), limit=_int(data, "limit", 100, minimum=0, maximum=32000),
        offset=_int(data, "offset", 0, maximum=MAX_OFFSET), include_total=_flag(data, "include_total", True),
        distinct=_flag(data, "distinct"),
    )


@action("datastore_info")
async def datastore_info(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """datastore_info: a loaded resource's columns and row count."""
    from govhub.opendata import datastore

    resource_id = _id(data, "id") if "id" in data else _id(data, "resource_id")
    await _readable_datastore_resource(session, context, resource_id)
    return await datastore.datastore_info(resource_id=resource_id)


@action("datastore_search_sql")
async def datastore_search_sql(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """datastore_search_sql: one read-only SELECT over public datastore tables (off unless enabled)."""
    from govhub.opendata import datastore

    return await datastore.datastore_search_sql(sql=_id(data, "sql"))


# ---------------------------------------------------------------- API tokens

@action("api_token_create", write=True)
async def api_token_create(session: AsyncSession, context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """api_token_create: a token for yourself (shown once); only from a signed-in session."""
    caller = _signed_in(context, data)
    if context.via_token:
        # Otherwise a leaked token could mint successors that outlive its revocation.
        raise Forbidden(N_("API tokens are created from a signed-in session, not with another token."))
    days = _int(data, "expires_in_days", 90, minimum=1, maximum=api_tokens.MAX_TOKEN_DAYS)
    row, token = await api_tokens.create_token(session, caller.account, name=str(data.get("name") or ""), days=days)
    return {"token": token, "id": row.id, "name": row.name, "expires_at": service.iso(row.expires_at)}


@action("api_token_list")
async def api_token_list(session: AsyncSession, context: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """api_token_list: your live tokens (never the tokens themselves)."""
    caller = _signed_in(context, data)
    return [{"id": row.id, "name": row.name, "created_at": service.iso(row.created_at),
             "expires_at": service.iso(row.expires_at), "last_access": service.iso(row.last_used_at)}
            for row in await api_tokens.tokens_of(session, caller.account.id)]


@action("api_token_revoke", write=True)
async def api_token_revoke(session: AsyncSession, context: Context, data: dict[str, Any]) -> None:
    """api_token_revoke: end one of your tokens."""
    caller = _signed_in(context, data)
    await api_tokens.revoke_token(session, caller.account.id, _id(data, "jti") if "jti" in data else _id(data))


def _signed_in(context: Context, data: dict[str, Any]) -> Caller:
    if context.caller is None:
        raise NotAuthenticated()
    user = data.get("user")
    if user not in (None, "", context.caller.account.id, context.caller.account.email):
        raise Forbidden(N_("You may manage only your own tokens."))
    return context.caller

