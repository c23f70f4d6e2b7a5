"""The GovStack Digital Registries data API (v1.4.0) for registries hosted on govhub.

Callers: the owning agency's systems with their own client-credentials token (scope
`registries:read` or `registries:write`), or the agency's registrars and data stewards signed
in to the portal (AAL2, with the CSRF token on writes). Other agencies read through the
exchange, never here.

Where govhub departs from ../shared/govstack/digital-registries-bb-data-api.json:

- Paths sit under `/registries` (`/registries/data/{registry}/{version}/...`). The kebab-case
  spellings seen in the wild (`update-entries`, `update-or-create`, `read-value`,
  `MyPersonalDataUsage/1.0`, and the spec's own `mypersonalDataUsage`) are accepted as
  unlisted aliases.
- Authorization is an OAuth2 bearer token from Digital ID (or an officer's session), not the
  spec's free-form `Authorization` API key. The `Information-Mediator-Client` header is
  optional and not used to authorise: the token says who calls.
- List: filters are `query.<field>=value` (the spec) or `<field>=value`, on top-level fields,
  matched exactly as the field's type; unknown fields are refused. `search` is a
  case-insensitive substring match (no regular expressions) in the field named by `filter`,
  or in every text field. `ordering` is `ascending`/`descending` (by primary key) or a field
  name with `-` for descending. Paging is `page` (from 1) and `pageSize` (also `page_size`,
  default 20, at most 200); `next` and `previous` are absolute URLs or null. `results` hold
  the records' content only, as in the spec.
- create, read, update and updateOrCreate answer `{"content": ...}` and add `uuid`,
  `createdAt` and `modifiedAt` beside it (the spec's createEntries names). update answers
  with the record although the spec gives no body; updateEntries answers `{"count": n}`.
- A write applies `write.content` as a JSON Merge Patch (null removes a field). update and
  updateOrCreate without a query find the record by the primary key in the content. update
  refuses a query that matches several records (409); read returns the first match in
  primary-key order. updateEntries needs a non-empty query. updateOrCreate creates from the
  query and the content merged. create answers 200, as the spec says.
- `{id}` in delete and `{uuid}` in readValue are the primary-key value (the spec's examples)
  or govhub's record uuid. delete is a soft delete, answered 204; the history keeps the data.
- readValue `.json` answers `{"value": ...}`, `.txt` the bare value as text/plain.
- Errors use govhub's `{"error": {"code", "message", "field"}}`; a missing record's 404 also
  carries the spec's `{"detail": "no record found"}`.
- Extension: `GET .../{id}/history` lists a record's changes (who, when, before and after).
- myPersonalDataUsage is for the signed-in person: `userId` may be omitted and, if given,
  must be their own national ID; `databaseId` (a registry code) is optional.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from govhub.db import SessionDep
from govhub.identity.auth import (
    SignedIn,
    _declares_auth,
    _load_caller,
    oauth_bearer,
    require_client_scope,
    signed_in,
)
from govhub.identity.models import OfficerRole
from govhub.kit.errors import Forbidden, ValidationFailed
from govhub.kit.i18n import N_, gettext
from govhub.registries import service
from govhub.registries.models import RegistryRecord
from govhub.registries.schemas import (
    Actor,
    ExistsAnswer,
    ExistsResponse,
    HistoryEntry,
    QueryBody,
    QueryWriteBody,
    RecordContent,
    RecordList,
    UpdateEntriesResponse,
    WriteBody,
)

router = APIRouter(tags=["registries"])
BASE = "/registries/data/{registryname}/{versionnumber}"
READ_SCOPE = "registries:read"
WRITE_SCOPE = "registries:write"
MANAGER_ROLES = frozenset({OfficerRole.REGISTRAR, OfficerRole.DATA_STEWARD})
# Query parameters of the list that are not record fields.
LIST_PARAMETERS = frozenset({"page", "pageSize", "page_size", "ordering", "search", "filter", "lang"})


def registry_access(scope: str) -> Callable[..., Any]:
    """Build the declared auth of a registry route: an agency system's token, or an officer.

    With an `Authorization` header the caller must be a client-credentials token carrying
    scope (Digital ID's `require_client_scope`); it acts for its own agency. Without one, the
    portal session decides (after the CSRF check on writes): a signed-in officer at AAL2 who
    is registrar or data steward, acting for those agencies. Citizens are refused.
    """
    machine = require_client_scope(scope)

    @_declares_auth("oauth_client_or_officer")
    async def dependency(request: Request, session: SessionDep) -> Actor:
        if request.headers.get("authorization"):
            claims = await oauth_bearer(request, session)
            client = await machine(claims, session)
            return Actor(
                kind="client",
                id=client.client_id,
                agency_ids=frozenset({client.agency_id}) if client.agency_id else frozenset(),
                can_read=READ_SCOPE in client.scopes,
                can_write=WRITE_SCOPE in client.scopes,
            )
        caller = await signed_in(await _load_caller(request, session))
        agencies = frozenset(agency for agency, roles in caller.agency_roles.items() if roles & MANAGER_ROLES)
        if not agencies:
            raise Forbidden(N_("Only registrars and data stewards of the owning agency can work with its registry."))
        return Actor(kind="account", id=caller.account.id, agency_ids=agencies)

    return dependency


Reader = Annotated[Actor, Depends(registry_access(READ_SCOPE))]
Writer = Annotated[Actor, Depends(registry_access(WRITE_SCOPE))]


def _content(record: RegistryRecord) -> RecordContent:
    return RecordContent(
        content=record.data,
        uuid=record.id,
        createdAt=record.created_at.isoformat(),
        modifiedAt=record.updated_at.isoformat(),
    )


# --- Personal data usage (before the list route, whose pattern would also match its aliases) ---


@router.get("/registries/data/myPersonalDataUsage")
@router.get("/registries/data/mypersonalDataUsage", include_in_schema=False)
@router.get("/registries/data/MyPersonalDataUsage/1.0", include_in_schema=False)
async def my_personal_data_usage(
    session: SessionDep,
    caller: SignedIn,
    user_id: Annotated[str | None, Query(alias="userId")] = None,
    database_id: Annotated[str | None, Query(alias="databaseId")] = None,
) -> list[dict[str, Any]]:
    """Who read the signed-in person's data held in hosted registries (GovStack personalDataUsage)."""
    national_id = caller.account.national_id
    if user_id is not None and user_id != national_id:
        raise Forbidden(N_("You can only see the use of your own personal data."))
    return await service.personal_data_usage(session, national_id=national_id, registry_code=database_id)


# --- Records ----------------------------------------------------------------------------


@router.get(BASE, response_model=RecordList)
async def list_records(
    request: Request,
    registryname: str,
    versionnumber: str,
    session: SessionDep,
    actor: Reader,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int | None, Query(alias="pageSize", ge=1, le=200)] = None,
    search: str | None = None,
    filter: str | None = None,  # noqa: A002 - the spec's parameter name
    ordering: str | None = None,
) -> RecordList:
    """Records matching `query.<field>=value` filters, a page at a time (GovStack list)."""
    size = page_size or _page_size(request)
    filters: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in LIST_PARAMETERS:
            continue
        filters[name.removeprefix("query.")] = value
    result = await service.list_records(
        session, actor=actor, registry_code=registryname, version=versionnumber, filters=filters,
        search=search, search_field=filter, ordering=ordering, page=page, page_size=size,
    )
    more = page * size < result.total
    return RecordList(
        count=result.total,
        next=str(request.url.include_query_params(page=page + 1)) if more else None,
        previous=str(request.url.include_query_params(page=page - 1)) if page > 1 else None,
        results=[record.data for record in result.records],
    )


def _page_size(request: Request) -> int:
    text = request.query_params.get("page_size")
    if text is None:
        return 20
    if not text.isdigit() or not 1 <= int(text) <= 200:
        raise ValidationFailed(N_("Give a page size from 1 to 200."), field="pageSize")
    return int(text)


@router.post(f"{BASE}/create", response_model=RecordContent)
async def create(
    registryname: str, versionnumber: str, body: WriteBody, session: SessionDep, actor: Writer
) -> RecordContent:
    """Add a record (GovStack create)."""
    record = await service.create_record(
        session, actor=actor, registry_code=registryname, version=versionnumber, content=body.write.content
    )
    return _content(record)


@router.post(f"{BASE}/exists", response_model=ExistsResponse)
async def exists(
    registryname: str, versionnumber: str, body: QueryBody, session: SessionDep, actor: Reader
) -> ExistsResponse:
    """Whether a record matches the query (GovStack exists)."""
    found = await service.record_exists(
        session, actor=actor, registry_code=registryname, version=versionnumber, query=body.query.content
    )
    message = N_("A matching record exists.") if found else N_("No record matches the query.")
    return ExistsResponse(answer=ExistsAnswer(status=found, message=gettext(message)))


@router.post(f"{BASE}/read", response_model=RecordContent)
async def read(
    registryname: str, versionnumber: str, body: QueryBody, session: SessionDep, actor: Reader
) -> RecordContent:
    """The record matching the query (GovStack read)."""
    record = await service.read_record(
        session, actor=actor, registry_code=registryname, version=versionnumber, query=body.query.content
    )
    return _content(record)


@router.put(f"{BASE}/update", response_model=RecordContent)
async def update(
    registryname: str, versionnumber: str, body: QueryWriteBody, session: SessionDep, actor: Writer
) -> RecordContent:
    """Change the one record the query finds (GovStack update)."""
    record = await service.update_record(
        session, actor=actor, registry_code=registryname, version=versionnumber,
        query=body.query.content if body.query else None, content=body.write.content,
    )
    return _content(record)


@router.put(f"{BASE}/updateEntries", response_model=UpdateEntriesResponse)
@router.put(f"{BASE}/update-entries", response_model=UpdateEntriesResponse, include_in_schema=False)
async def update_entries(
    registryname: str, versionnumber: str, body: QueryWriteBody, session: SessionDep, actor: Writer
) -> UpdateEntriesResponse:
    """Change every record the query finds (GovStack updateEntries)."""
    count = await service.update_entries(
        session, actor=actor, registry_code=registryname, version=versionnumber,
        query=body.query.content if body.query else None, content=body.write.content,
    )
    return UpdateEntriesResponse(count=count)


@router.post(f"{BASE}/updateOrCreate", response_model=RecordContent)
@router.post(f"{BASE}/update-or-create", response_model=RecordContent, include_in_schema=False)
async def update_or_create(
    registryname: str, versionnumber: str, body: QueryWriteBody, session: SessionDep, actor: Writer
) -> RecordContent:
    """Change the record the query finds, or create it (GovStack updateOrCreate)."""
    record, _created = await service.update_or_create(
        session, actor=actor, registry_code=registryname, version=versionnumber,
        query=body.query.content if body.query else None, content=body.write.content,
    )
    return _content(record)


@router.delete(f"{BASE}/{{id}}/delete", status_code=204)
async def delete(registryname: str, versionnumber: str, id: str, session: SessionDep, actor: Writer) -> Response:  # noqa: A002
    """Delete a record by primary-key value or uuid (GovStack delete; soft, history kept)."""
    await service.delete_record(session, actor=actor, registry_code=registryname, version=versionnumber, key=id)
    return Response(status_code=204)


@router.get(f"{BASE}/{{uuid}}/readValue/{{field}}.{{ext}}")
@router.get(f"{BASE}/{{uuid}}/read-value/{{field}}.{{ext}}", include_in_schema=False)
async def read_value(
    registryname: str, versionnumber: str, uuid: str, field: str, ext: str, session: SessionDep, actor: Reader
) -> Response:
    """One field of one record, as JSON `{"value": ...}` or plain text (GovStack readValue)."""
    if ext not in ("json", "txt"):
        raise ValidationFailed(N_("Ask for the value as .json or .txt."), field="ext")
    value = await service.read_value(
        session, actor=actor, registry_code=registryname, version=versionnumber, key=uuid, field=field
    )
    if ext == "json":
        return JSONResponse({"value": value})
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False)
    return PlainTextResponse(text)


@router.get(f"{BASE}/{{id}}/history", response_model=list[HistoryEntry])
async def history(
    registryname: str, versionnumber: str, id: str, session: SessionDep, actor: Reader  # noqa: A002
) -> list[HistoryEntry]:
    """Every change of a record: who, when, before and after (govhub extension)."""
    rows = await service.record_history(
        session, actor=actor, registry_code=registryname, version=versionnumber, key=id
    )
    return [
        HistoryEntry(
            id=row.id, change=row.change, before=row.before, after=row.after,
            actor=row.actor, request_id=row.request_id, at=row.at.isoformat(),
        )
        for row in rows
    ]
