"""Registries: define versioned schemas, keep records valid and unique, and record every change.

Every record function takes the acting `Actor`, checks that it may read or write the
registry (its agency owns it), validates data against the version's JSON Schema (draft
2020-12, formats asserted), and appends a history row for each change. Services flush and
never commit. Queries live in repository.py.

Writes apply `write.content` to a found record as a JSON Merge Patch (RFC 7396): fields
given replace the stored ones, nested objects merge, and null removes a field. The result is
validated as a whole.

`lookup` (for the exchange) and `bulk_load` (for generators and imports) are trusted internal
entry points without an actor check: their callers enforce their own policies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any

from jsonschema import Draft202012Validator, SchemaError
from jsonschema import ValidationError as SchemaViolation
from jsonschema.exceptions import best_match
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity.models import Agency
from govhub.kit.clock import utcnow
from govhub.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.kit.ids import new_id
from govhub.kit.observability import request_id_var
from govhub.registries import repository
from govhub.registries.models import Registry, RegistryRecord, RegistryRecordHistory, RegistryVersion
from govhub.registries.schemas import Actor

REGISTRY_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
VERSION_NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
QUERYABLE_TYPES = ("string", "integer", "number", "boolean")
BULK_CHUNK = 1000


class RecordNotFound(NotFound):
    """No live record matches; the body also carries GovStack's `detail`."""

    code = "record_not_found"
    message = N_("No record matches the query.")

    def to_dict(self) -> dict[str, Any]:
        """GovStack's read answers 404 with {"detail": "no record found"}; keep both shapes."""
        body = super().to_dict()
        body["detail"] = "no record found"
        return body


# --- Registries and versions ------------------------------------------------------------


async def create_registry(
    session: AsyncSession,
    *,
    actor: Actor,
    agency_id: str,
    code: str,
    name_th: str,
    name_en: str,
    description: str = "",
) -> Registry:
    """Host a new registry for an agency the actor manages; codes are unique and URL-safe."""
    code = (code or "").strip().lower()
    if not REGISTRY_CODE.match(code):
        raise ValidationFailed(
            N_("Use 2 to 64 lower-case letters, digits or dashes for the registry code."), field="code"
        )
    if not name_th.strip():
        raise ValidationFailed(N_("Enter the registry's Thai name."), field="name_th")
    if not name_en.strip():
        raise ValidationFailed(N_("Enter the registry's English name."), field="name_en")
    if await session.get(Agency, agency_id) is None:
        raise ValidationFailed(N_("Choose an agency from the list."), field="agency_id")
    if agency_id not in actor.agency_ids or not actor.can_write:
        raise Forbidden(N_("Only registrars and data stewards of the agency can manage its registries."))
    if await repository.registry_by_code(session, code):
        raise Conflict(N_("A registry with this code already exists."), code="duplicate_registry")
    registry = Registry(
        agency_id=agency_id,
        code=code,
        name_th=name_th.strip(),
        name_en=name_en.strip(),
        description=(description or "").strip(),
        created_by=actor.label,
    )
    session.add(registry)
    await session.flush()
    return registry


async def add_version(
    session: AsyncSession,
    *,
    actor: Actor,
    registry_code: str,
    version: str,
    json_schema: dict[str, Any],
    primary_key: str,
    personal_data_fields: Sequence[str] = (),
) -> RegistryVersion:
    """Add a schema version to a registry: a valid draft 2020-12 object schema with its key."""
    registry = await _managed_registry(session, actor, registry_code, write=True)
    if not VERSION_NAME.match(version or ""):
        raise ValidationFailed(
            N_("Use up to 32 letters, digits, dots or dashes for the version, such as 1.0."), field="version"
        )
    if await repository.version_of(session, registry.id, version):
        raise Conflict(N_("This registry already has a version with this name."), code="duplicate_version")
    fields = _check_definition(json_schema, primary_key, personal_data_fields)
    row = RegistryVersion(
        registry_id=registry.id,
        version=version,
        json_schema=json_schema,
        primary_key=primary_key,
        personal_data_fields=fields,
        created_by=actor.label,
    )
    session.add(row)
    await session.flush()
    return row


async def update_version(
    session: AsyncSession,
    *,
    actor: Actor,
    registry_code: str,
    version: str,
    json_schema: dict[str, Any],
    primary_key: str,
    personal_data_fields: Sequence[str] = (),
) -> RegistryVersion:
    """Correct a version's definition, allowed only while it holds no records."""
    registry = await _managed_registry(session, actor, registry_code, write=True)
    row = await _version(session, registry, version)
    if await repository.version_has_records(session, row.id):
        raise Conflict(
            N_("This version already holds records and cannot change. Add a new version instead."),
            code="version_in_use",
        )
    row.personal_data_fields = _check_definition(json_schema, primary_key, personal_data_fields)
    row.json_schema, row.primary_key = json_schema, primary_key
    await session.flush()
    return row


def _check_definition(schema: Any, primary_key: str, personal_data_fields: Sequence[str]) -> list[str]:
    if not isinstance(schema, dict):
        raise ValidationFailed(N_("The schema must be a JSON object."), field="json_schema")
    if schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        raise ValidationFailed(
            N_("Registry schemas use JSON Schema draft 2020-12 (%(uri)s)."), field="json_schema", uri=DRAFT_2020_12
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        path = "/".join(str(part) for part in error.absolute_path) or "/"
        raise ValidationFailed(
            N_("The JSON Schema is not valid at %(path)s: %(detail)s"),
            field="json_schema",
            path=path,
            detail=error.message,
        ) from None
    properties = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(properties, dict):
        raise ValidationFailed(
            N_("A registry schema describes an object: give it type object and its properties."), field="json_schema"
        )
    if primary_key not in properties:
        raise ValidationFailed(N_("The primary key must be one of the schema's properties."), field="primary_key")
    if primary_key not in schema.get("required", []):
        raise ValidationFailed(N_("The primary key must be listed as required in the schema."), field="primary_key")
    if _json_type(properties[primary_key]) not in ("string", "integer"):
        raise ValidationFailed(N_("The primary key must be a text or whole-number field."), field="primary_key")
    fields = list(dict.fromkeys(personal_data_fields))
    unknown = [name for name in fields if name not in properties]
    if unknown:
        raise ValidationFailed(
            N_("%(name)s is not a field of this schema."), field="personal_data_fields", name=unknown[0]
        )
    return fields


# --- Records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A page of records and the total that matched."""

    total: int
    records: Sequence[RegistryRecord]


async def list_records(
    session: AsyncSession,
    *,
    actor: Actor,
    registry_code: str,
    version: str,
    filters: dict[str, str],
    search: str | None = None,
    search_field: str | None = None,
    ordering: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page:
    """Records whose top-level fields equal filters (text from a URL, read as the field's type).

    `search` finds text inside `search_field`, or inside any text field when none is named.
    `ordering` is ascending or descending (by primary key), or a field name, '-' first for
    descending order.
    """
    row = await _managed_version(session, actor, registry_code, version, write=False)
    properties = _properties(row)
    conditions = [
        repository.field_condition(
            name, _queryable_type(row, name), _parse_text(row, name, value), primary_key=row.primary_key
        )
        for name, value in filters.items()
    ]
    if search:
        if search_field:
            if _queryable_type(row, search_field) != "string":
                raise ValidationFailed(N_("Search works on text fields only."), field="filter")
            fields = [search_field]
        else:
            fields = [name for name, spec in properties.items() if _json_type(spec) == "string"]
        if fields:
            conditions.append(repository.search_condition(fields, search))
    query = repository.records_query(row.id, conditions)
    total = await repository.count(session, query)
    records = await repository.page(
        session, query, order_by=_order_by(row, ordering), offset=(page - 1) * page_size, limit=page_size
    )
    return Page(total=total, records=records)


async def create_record(
    session: AsyncSession, *, actor: Actor, registry_code: str, version: str, content: dict[str, Any]
) -> RegistryRecord:
    """Add a record: valid against the schema, and its primary-key value not yet used."""
    row = await _managed_version(session, actor, registry_code, version, write=True)
    return await _create(session, row, actor, content)


async def record_exists(
    session: AsyncSession, *, actor: Actor, registry_code: str, version: str, query: dict[str, Any]
) -> bool:
    """True if any live record matches every field of query."""
    row = await _managed_version(session, actor, registry_code, version, write=False)
    return bool(await repository.matching_records(session, _query(row, query), limit=1))


async def read_record(
    session: AsyncSession, *, actor: Actor, registry_code: str, version: str, query: dict[str, Any]
) -> RegistryRecord:
    """The record matching query (the first in primary-key order if several do)."""
    row = await _managed_version(session, actor, registry_code, version, write=False)
    found = await repository.matching_records(session, _query(row, query), limit=1)
    if not found:
        raise RecordNotFound()
    return found[0]


async def update_record(
    session: AsyncSession,
    *,
    actor: Actor,
    registry_code: str,
    version: str,
    query: dict[str, Any] | None,
    content: dict[str, Any],
) -> RegistryRecord:
    """Change the one record that query (or the primary key in content) finds."""
    row = await _managed_version(session, actor, registry_code, version, write=True)
    record = await _single_match(session, row, query, content)
    if record is None:
        raise RecordNotFound()
    return await _update(session, row, actor, record, content)


async def update_entries(
    session: AsyncSession,
    *,
    actor: Actor,
    registry_code: str,
    version: str,
    query: dict[str, Any] | None,
    content: dict[str, Any],
) -> int:
    """Apply content to every record that query matches; return how many changed."""
    row = await _managed_version(session, actor, registry_code, version, write=True)
    if not query:
        raise ValidationFailed(
            N_("Say which records to update with a query; updating a whole registry at once is not allowed."),
            field="query",
        )
    records = await repository.matching_records(session, _query(row, query))
    if len(records) > 1 and row.primary_key in content:
        raise Conflict(
            N_("Several records match, and they cannot all take the same %(name)s."),
            code="duplicate_key",
            name=row.primary_key,
        )
    changed = 0
    for record in records:
        before = record.data
        await _update(session, row, actor, record, content)
        changed += record.data != before
    return changed


async def update_or_create(
    session: AsyncSession,
    *,
    actor: Actor,
    registry_code: str,
    version: str,
    query: dict[str, Any] | None,
    content: dict[str, Any],
) -> tuple[RegistryRecord, bool]:
    """Update the record that query finds, or create one from query and content together."""
    row = await _managed_version(session, actor, registry_code, version, write=True)
    record = await _single_match(session, row, query, content)
    if record is not None:
        return await _update(session, row, actor, record, content), False
    return await _create(session, row, actor, merge_patch(dict(query or {}), content)), True


async def delete_record(
    session: AsyncSession, *, actor: Actor, registry_code: str, version: str, key: str
) -> None:
    """Soft-delete the record with this primary-key value (or record id); history keeps it."""
    row = await _managed_version(session, actor, registry_code, version, write=True)
    record = await repository.live_record_by_key_or_id(session, row.id, key)
    if record is None:
        raise RecordNotFound()
    now = utcnow()
    record.deleted_at, record.updated_at, record.updated_by = now, now, actor.label
    _history(session, record, actor.label, "deleted", before=record.data, after=None, at=now)
    await session.flush()


async def read_value(
    session: AsyncSession, *, actor: Actor, registry_code: str, version: str, key: str, field: str
) -> Any:
    """One field of the record with this primary-key value (or record id); None when unset."""
    row = await _managed_version(session, actor, registry_code, version, write=False)
    record = await repository.live_record_by_key_or_id(session, row.id, key)
    if record is None:
        raise RecordNotFound()
    if field not in record.data and field not in _properties(row):
        raise NotFound(N_("This registry has no field called %(name)s."), code="field_not_found", name=field)
    return record.data.get(field)


async def record_history(
    session: AsyncSession, *, actor: Actor, registry_code: str, version: str, key: str
) -> Sequence[RegistryRecordHistory]:
    """Every change of the record with this primary-key value (or record id), oldest first."""
    row = await _managed_version(session, actor, registry_code, version, write=False)
    record = await repository.live_record_by_key_or_id(session, row.id, key)
    if record is None:
        record = await repository.latest_record_by_key_or_id(session, row.id, key)
    if record is None:
        raise RecordNotFound()
    return await repository.history_of(session, record.id)


async def personal_data_usage(
    session: AsyncSession, *, national_id: str | None, registry_code: str | None = None
) -> list[dict[str, Any]]:
    """Who read this person's data, as GovStack personalDataUsage items, newest first.

    Reads of another agency's registry happen only through the exchange, which keeps the
    evidence of every call with a keyed hash of the data subject; this answers from that log
    (only calls whose data was sent). registry_code, GovStack's databaseId, narrows it to the
    services backed by that registry.
    """
    if not national_id:
        return []
    # Imported here: the exchange depends on registries (lookup), not the other way round.
    from govhub.exchange import repository as exchange_repository
    from govhub.exchange.service import subject_hash

    names = await exchange_repository.subsystem_names(session)
    services = await exchange_repository.services_backed_by(session, registry_code) if registry_code else None
    items = []
    for record in await exchange_repository.usage_of_subject(session, subject_hash(national_id)):
        if record.status != "allowed" or (services is not None and (record.provider, record.service_code) not in services):
            continue
        instance, member_class, member_code, *_ = (record.consumer.split("/") + ["", "", ""])[:4]
        items.append({
            "id": str(record.seq),
            "readerId": record.user_id or "",
            "readerInstitutionId": f"{instance}/{member_class}/{member_code}",
            "readerInstitutionName": names.get(record.consumer, record.consumer),
            "readerApplicationName": record.consumer,
            "searchDateTime": record.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "refrences": [{"ReferenceId": record.request_id}],
            "purpose": record.purpose or "",
            "consentId": record.consent_id,
        })
    return items


# --- Internal entry points: the exchange's lookup and the bulk loader ---------------------------


async def lookup(session: AsyncSession, *, registry_code: str, version: str, key: str) -> dict[str, Any] | None:
    """The data of the live record with primary-key value key, or None (one indexed query).

    For the exchange, which enforces access rights, consent and field limits itself.
    """
    data = await repository.lookup_data(session, registry_code=registry_code, version=version, key=str(key))
    return dict(data) if data is not None else None


async def bulk_load(
    session: AsyncSession,
    *,
    registry_code: str,
    version: str,
    rows: Iterable[dict[str, Any]],
    actor: Actor | str,
    chunk_size: int = BULK_CHUNK,
    validate: bool = True,
) -> int:
    """Insert many new records fast; return how many. For generators and imports, not for APIs.

    Rows are validated against the schema (one compiled validator), checked for duplicate keys
    within the load and against the version's live records (the unique index decides any
    race), and inserted in chunks with executemany (multi-row INSERTs). Each record still gets
    its own `created` history row, written in the same executemany batches, so history reads
    the same for loaded and created records (one row per record rather than one per chunk:
    "who created this record, when, with what" stays answerable record by record). The
    actor is an Actor or a label such as 'system:demo'; it is not authorised here (the caller is
    govhub itself). Any invalid or duplicate row raises before the chunk holding it is written,
    and the caller's transaction decides whether earlier chunks are kept.

    Schema validation costs about 60 µs a row (a third of the load on PostgreSQL): a generator
    that builds rows to the schema and has its own tests may pass validate=False; the primary
    key is still checked. Measured with history: 100,000 rows in about 19 s on PostgreSQL.
    """
    row = await repository.version_by_code(session, registry_code, version)
    if row is None:
        raise NotFound(N_("There is no such registry or version."), code="registry_not_found")
    label = actor.label if isinstance(actor, Actor) else str(actor)[:80]
    validator = _validator(row.json_schema)
    request_id = _request_id()
    appending = await repository.version_has_live_records(session, row.id)
    seen: set[str] = set()
    total = 0
    for chunk in _chunks(rows, chunk_size):
        records: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        now = utcnow()
        for offset, data in enumerate(chunk):
            index = total + offset
            try:
                if validate:
                    _validate(validator, data)
                key = _key_of(row, data)
            except ValidationFailed as error:
                raise ValidationFailed(
                    N_("Row %(row)s is not valid: %(detail)s"), field=error.field, row=index, detail=error.translated()
                ) from None
            if key in seen:
                raise Conflict(N_("Row %(row)s repeats a primary key given earlier."), code="duplicate_key", row=index)
            seen.add(key)
            record_id = new_id()
            records.append({
                "id": record_id, "registry_version_id": row.id, "key": key, "data": data,
                "created_at": now, "created_by": label, "updated_at": now, "updated_by": label, "deleted_at": None,
            })
            history.append({
                "id": new_id(), "record_id": record_id, "registry_version_id": row.id, "change": "created",
                "before": None, "after": data, "actor": label, "request_id": request_id, "at": now,
            })
        # Keys already registered: looked up only when the version held records before this
        # load (into an empty version, `seen` is enough, and a lookup per chunk against the
        # rows this load just wrote would make the load quadratic). The unique index is the
        # backstop either way.
        if appending:
            clash = await repository.existing_keys(session, row.id, (r["key"] for r in records))
            if clash:
                raise Conflict(
                    N_("%(count)s rows use primary keys that are already registered."),
                    code="duplicate_key",
                    count=len(clash),
                )
        try:
            await session.execute(insert(RegistryRecord.__table__), records)
        except IntegrityError:
            raise Conflict(
                N_("Some rows use primary keys that are already registered."), code="duplicate_key"
            ) from None
        await session.execute(insert(RegistryRecordHistory.__table__), history)
        total += len(records)
    return total


# --- Helpers ------------------------------------------------------------------------------


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON Merge Patch (RFC 7396): a new object, target unchanged."""
    result = dict(target)
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        elif isinstance(value, dict):
            current = result.get(name)
            result[name] = merge_patch(current if isinstance(current, dict) else {}, value)
        else:
            result[name] = value
    return result


async def _managed_registry(session: AsyncSession, actor: Actor, code: str, *, write: bool) -> Registry:
    if not (actor.can_write if write else actor.can_read):
        raise Forbidden(
            N_("This access token does not allow changing registry records.")
            if write
            else N_("This access token does not allow reading registry records."),
            code="insufficient_scope",
        )
    registry = await repository.visible_registry(session, actor, code)
    if registry is None:
        if await repository.registry_by_code(session, code) is not None:
            raise Forbidden(
                N_("This registry belongs to another agency. Ask for its data through the data exchange."),
                code="other_agency",
            )
        raise NotFound(N_("There is no registry called %(registry)s."), code="registry_not_found", registry=code)
    return registry


async def _version(session: AsyncSession, registry: Registry, version: str) -> RegistryVersion:
    row = await repository.version_of(session, registry.id, version)
    if row is None:
        raise NotFound(
            N_("Registry %(registry)s has no version %(version)s."),
            code="version_not_found",
            registry=registry.code,
            version=version,
        )
    return row


async def _managed_version(
    session: AsyncSession, actor: Actor, registry_code: str, version: str, *, write: bool
) -> RegistryVersion:
    registry = await _managed_registry(session, actor, registry_code, write=write)
    return await _version(session, registry, version)


async def _create(session: AsyncSession, row: RegistryVersion, actor: Actor, content: dict[str, Any]) -> RegistryRecord:
    data = merge_patch({}, content)
    _validate(_validator(row.json_schema), data)
    key = _key_of(row, data)
    if await repository.live_record_by_key(session, row.id, key) is not None:
        raise _duplicate(row)
    now = utcnow()
    record = RegistryRecord(
        id=new_id(), registry_version_id=row.id, key=key, data=data,
        created_at=now, created_by=actor.label, updated_at=now, updated_by=actor.label,
    )
    session.add(record)
    _history(session, record, actor.label, "created", before=None, after=data, at=now)
    await _flush_unique(session, row)
    return record


async def _update(
    session: AsyncSession, row: RegistryVersion, actor: Actor, record: RegistryRecord, content: dict[str, Any]
) -> RegistryRecord:
    before = record.data
    after = merge_patch(before, content)
    if after == before:
        return record  # nothing changed, so nothing to record
    _validate(_validator(row.json_schema), after)
    key = _key_of(row, after)
    if key != record.key and await repository.live_record_by_key(session, row.id, key) is not None:
        raise _duplicate(row)
    now = utcnow()
    record.key, record.data, record.updated_at, record.updated_by = key, after, now, actor.label
    _history(session, record, actor.label, "updated", before=before, after=after, at=now)
    await _flush_unique(session, row)
    return record


async def _single_match(
    session: AsyncSession, row: RegistryVersion, query: dict[str, Any] | None, content: dict[str, Any]
) -> RegistryRecord | None:
    """The record a query names, or the one with content's primary key when there is no query."""
    if not query:
        if row.primary_key not in content:
            raise ValidationFailed(
                N_("Say which record to change: give a query, or %(name)s in the content."),
                field=row.primary_key,
                name=row.primary_key,
            )
        query = {row.primary_key: content[row.primary_key]}
    found = await repository.matching_records(session, _query(row, query), limit=2)
    if len(found) > 1:
        raise Conflict(
            N_("The query matches more than one record. Narrow it, or use updateEntries to change several."),
            code="ambiguous_query",
        )
    return found[0] if found else None


def _history(
    session: AsyncSession,
    record: RegistryRecord,
    actor: str,
    change: str,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: Any,
) -> None:
    session.add(RegistryRecordHistory(
        record_id=record.id, registry_version_id=record.registry_version_id, change=change,
        before=before, after=after, actor=actor, request_id=_request_id(), at=at,
    ))


async def _flush_unique(session: AsyncSession, row: RegistryVersion) -> None:
    # Two writers racing for one key: the partial unique index decides, and says Conflict.
    try:
        await session.flush()
    except IntegrityError:
        raise _duplicate(row) from None


def _duplicate(row: RegistryVersion) -> Conflict:
    return Conflict(N_("A record with this %(name)s already exists."), code="duplicate_key", name=row.primary_key)


def _request_id() -> str | None:
    value = request_id_var.get()
    return None if value == "-" else value[:64]


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _properties(row: RegistryVersion) -> dict[str, Any]:
    return row.json_schema.get("properties", {})  # type: ignore[no-any-return]


def _json_type(spec: Any) -> str | None:
    """The declared type of a property ('string'), ignoring 'null' in a list of types."""
    if not isinstance(spec, dict):
        return None
    declared = spec.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), None)
    if declared is None and "enum" in spec and spec["enum"]:
        sample = spec["enum"][0]
        declared = "string" if isinstance(sample, str) else None
    return declared if isinstance(declared, str) else None


def _queryable_type(row: RegistryVersion, field: str) -> str:
    properties = _properties(row)
    if field not in properties:
        raise ValidationFailed(N_("%(name)s is not a field of this registry."), field=field, name=field)
    json_type = _json_type(properties[field])
    if json_type not in QUERYABLE_TYPES:
        raise ValidationFailed(
            N_("%(name)s cannot be searched: only text, number and true/false fields can."), field=field, name=field
        )
    return json_type


def _query(row: RegistryVersion, query: dict[str, Any]) -> Any:
    """Live records whose fields equal query's JSON values."""
    conditions = []
    for name, value in query.items():
        json_type = _queryable_type(row, name)
        if not _is_type(value, json_type) and not (name == row.primary_key and _is_type(value, "string")):
            raise ValidationFailed(N_("%(name)s must be of type %(expected)s."), field=name, name=name, expected=json_type)
        conditions.append(repository.field_condition(name, json_type, value, primary_key=row.primary_key))
    return repository.records_query(row.id, conditions)


def _is_type(value: Any, json_type: str) -> bool:
    if json_type == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if json_type == "integer":
        return isinstance(value, int)
    if json_type == "number":
        return isinstance(value, (int, float))
    return isinstance(value, str)


def _parse_text(row: RegistryVersion, field: str, text: str) -> Any:
    """A filter value from a URL, read as the field's type."""
    json_type = _queryable_type(row, field)
    try:
        if json_type == "integer":
            return int(text)
        if json_type == "number":
            return float(text)
    except ValueError:
        raise ValidationFailed(N_("%(name)s must be of type %(expected)s."), field=field, name=field, expected=json_type) from None
    if json_type == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValidationFailed(N_("%(name)s must be of type %(expected)s."), field=field, name=field, expected=json_type)
        return text.lower() == "true"
    return text


def _order_by(row: RegistryVersion, ordering: str | None) -> list[Any]:
    value = (ordering or "ascending").strip()
    if value in ("", "asc", "ascending"):
        return [RegistryRecord.key.asc()]
    if value in ("desc", "descending"):
        return [RegistryRecord.key.desc()]
    descending = value.startswith("-")
    field = value.lstrip("-")
    if field == row.primary_key:
        column: Any = RegistryRecord.key
    else:
        json_type = _queryable_type(row, field)
        element = RegistryRecord.data[field]
        column = {
            "integer": element.as_integer, "number": element.as_float, "boolean": element.as_boolean
        }.get(json_type, element.as_string)()
    return [column.desc() if descending else column.asc()]


@lru_cache(maxsize=64)
def _compiled(schema_text: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_text), format_checker=Draft202012Validator.FORMAT_CHECKER)


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    return _compiled(json.dumps(schema, sort_keys=True))


def _key_of(row: RegistryVersion, data: dict[str, Any]) -> str:
    value = data.get(row.primary_key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) == "" or len(str(value)) > 255:
        raise ValidationFailed(
            N_("%(name)s, the primary key, must be a text or whole number of up to 255 characters."),
            field=row.primary_key,
            name=row.primary_key,
        )
    return str(value)


def _validate(validator: Draft202012Validator, data: dict[str, Any]) -> None:
    error = best_match(validator.iter_errors(data))
    if error is not None:
        raise _violation(error)


_LIMIT_MESSAGES = {
    "minLength": N_("%(name)s must be at least %(limit)s characters long."),
    "maxLength": N_("%(name)s must be at most %(limit)s characters long."),
    "minimum": N_("%(name)s must be at least %(limit)s."),
    "maximum": N_("%(name)s must be at most %(limit)s."),
    "exclusiveMinimum": N_("%(name)s must be more than %(limit)s."),
    "exclusiveMaximum": N_("%(name)s must be less than %(limit)s."),
    "minItems": N_("%(name)s must have at least %(limit)s items."),
    "maxItems": N_("%(name)s must have at most %(limit)s items."),
}


def _violation(error: SchemaViolation) -> ValidationFailed:
    """A schema violation as a message that names the field, in words a person can act on."""
    path = [str(part) for part in error.absolute_path]
    kind = error.validator
    if kind == "required" and isinstance(error.instance, dict):
        missing = next((n for n in error.validator_value if n not in error.instance), "")
        field = ".".join([*path, missing])
        return ValidationFailed(N_("%(name)s is required."), field=field, name=field)
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        extra = next((n for n in error.instance if n not in known), "")
        field = ".".join([*path, extra])
        return ValidationFailed(N_("%(name)s is not a field of this registry."), field=field, name=field)
    field = ".".join(path) or "record"
    if kind == "type":
        expected = error.validator_value if isinstance(error.validator_value, str) else " or ".join(error.validator_value)
        return ValidationFailed(N_("%(name)s must be of type %(expected)s."), field=field, name=field, expected=expected)
    if kind in ("enum", "const"):
        allowed = error.validator_value if kind == "enum" else [error.validator_value]
        return ValidationFailed(
            N_("%(name)s must be one of: %(allowed)s."), field=field, name=field, allowed=", ".join(map(str, allowed))
        )
    if kind == "format":
        return ValidationFailed(N_("%(name)s must be a valid %(format)s."), field=field, name=field, format=error.validator_value)
    if kind == "pattern":
        return ValidationFailed(
            N_("%(name)s does not have the expected form (%(pattern)s)."), field=field, name=field, pattern=error.validator_value
        )
    if kind in _LIMIT_MESSAGES:
        return ValidationFailed(_LIMIT_MESSAGES[kind], field=field, name=field, limit=error.validator_value)
    return ValidationFailed(N_("%(name)s is not valid: %(detail)s"), field=field, name=field, detail=error.message)


async def registry_exists(session: AsyncSession, registry_code: str, version: str) -> bool:
    """True if the registry has this version (the exchange and proofing check before lookups)."""
    row = await repository.version_by_code(session, registry_code, version)
    return row is not None
