"""Registries service: schemas, validation, uniqueness, history, scoping, filters, bulk load."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from govhub.identity import service as identity
from govhub.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from govhub.registries import repository, service
from govhub.registries.models import RegistryRecord, RegistryRecordHistory
from govhub.registries.schemas import Actor
from tests import factories as f

PERSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["national_id", "first_name_th", "last_name_th", "birth_date"],
    "properties": {
        "national_id": {"type": "string", "pattern": "^[0-9]{13}$"},
        "first_name_th": {"type": "string", "minLength": 1},
        "last_name_th": {"type": "string", "minLength": 1},
        "first_name_en": {"type": "string"},
        "birth_date": {"type": "string", "format": "date"},
        "province": {"type": "string"},
        "children": {"type": "integer", "minimum": 0},
        "alive": {"type": "boolean"},
        "address": {
            "type": "object",
            "properties": {"house_no": {"type": "string"}, "postcode": {"type": "string"}},
        },
    },
}
PERSONAL_FIELDS = ["national_id", "first_name_th", "last_name_th", "first_name_en", "birth_date", "address"]


async def make_agency(session) -> str:
    """A fresh agency; returns its id."""
    agency = await identity.create_agency(
        session, code="R" + secrets.token_hex(4).upper(), name_th="กรมทดสอบ", name_en="Test Department", actor_id=None
    )
    await session.commit()
    return agency.id


async def make_registry(session, agency_id: str, *, schema: dict[str, Any] | None = None) -> str:
    """A registry with version 1.0 of the person schema; returns its code."""
    actor = Actor.system("tests", agency_id)
    code = "people-" + secrets.token_hex(4)
    await service.create_registry(
        session, actor=actor, agency_id=agency_id, code=code, name_th="ทะเบียนราษฎร์ทดสอบ", name_en="Test people"
    )
    await service.add_version(
        session, actor=actor, registry_code=code, version="1.0", json_schema=schema or PERSON_SCHEMA,
        primary_key="national_id", personal_data_fields=PERSONAL_FIELDS,
    )
    await session.commit()
    return code


def person(**overrides: Any) -> dict[str, Any]:
    """A valid person record."""
    data = {
        "national_id": f.national_id(),
        "first_name_th": "สมชาย",
        "last_name_th": "ใจดี",
        "first_name_en": "Somchai",
        "birth_date": "1985-04-12",
        "province": "เชียงใหม่",
        "children": 2,
        "alive": True,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
async def owned(session):
    """(actor, registry code) for an agency's registrar acting on its own registry."""
    agency_id = await make_agency(session)
    code = await make_registry(session, agency_id)
    return Actor(kind="account", id="officer-1", agency_ids=frozenset({agency_id})), code


# --- Schemas ------------------------------------------------------------------------------


async def test_version_schema_is_checked_with_draft_2020_12(session):
    agency_id = await make_agency(session)
    actor = Actor.system("tests", agency_id)
    code = "schemas-" + secrets.token_hex(4)
    await service.create_registry(session, actor=actor, agency_id=agency_id, code=code, name_th="ก", name_en="A")

    async def add(schema: Any, primary_key: str = "id", version: str = "1.0") -> None:
        await service.add_version(
            session, actor=actor, registry_code=code, version=version, json_schema=schema, primary_key=primary_key
        )

    with pytest.raises(ValidationFailed) as invalid:
        await add({"type": "object", "properties": {"id": {"type": "strin"}}, "required": ["id"]})
    assert invalid.value.field == "json_schema" and "properties/id/type" in str(invalid.value)
    with pytest.raises(ValidationFailed) as draft7:
        await add({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {}})
    assert "2020-12" in str(draft7.value)
    with pytest.raises(ValidationFailed) as no_key:
        await add({"type": "object", "properties": {"name": {"type": "string"}}}, primary_key="id")
    assert no_key.value.field == "primary_key"
    with pytest.raises(ValidationFailed) as not_required:
        await add({"type": "object", "properties": {"id": {"type": "string"}}})
    assert not_required.value.field == "primary_key"
    with pytest.raises(ValidationFailed) as bad_version:
        await add({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}, version="1 0")
    assert bad_version.value.field == "version"
    with pytest.raises(ValidationFailed) as pii:
        await service.add_version(
            session, actor=actor, registry_code=code, version="1.0", primary_key="id",
            json_schema={"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
            personal_data_fields=["nickname"],
        )
    assert pii.value.field == "personal_data_fields" and "nickname" in str(pii.value)
    good = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
    await add(good)
    with pytest.raises(Conflict):
        await add(good)


async def test_registry_codes_are_unique_and_owned(session):
    agency_id = await make_agency(session)
    other = await make_agency(session)
    code = await make_registry(session, agency_id)
    with pytest.raises(Conflict):
        await service.create_registry(
            session, actor=Actor.system("t", agency_id), agency_id=agency_id, code=code, name_th="ก", name_en="A"
        )
    with pytest.raises(Forbidden):
        await service.create_registry(
            session, actor=Actor.system("t", other), agency_id=agency_id, code="x-" + code, name_th="ก", name_en="A"
        )
    with pytest.raises(ValidationFailed):
        await service.create_registry(
            session, actor=Actor.system("t", agency_id), agency_id=agency_id, code="Bad Code", name_th="ก", name_en="A"
        )


async def test_a_version_is_immutable_once_it_has_records(session, owned):
    actor, code = owned
    changed = {**PERSON_SCHEMA, "required": ["national_id", "first_name_th"]}
    await service.update_version(
        session, actor=actor, registry_code=code, version="1.0", json_schema=changed, primary_key="national_id"
    )
    await service.create_record(
        session, actor=actor, registry_code=code, version="1.0", content=person(last_name_th=None, birth_date=None)
    )
    with pytest.raises(Conflict) as refused:
        await service.update_version(
            session, actor=actor, registry_code=code, version="1.0", json_schema=PERSON_SCHEMA, primary_key="national_id"
        )
    assert refused.value.code == "version_in_use"


# --- Validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"first_name_th": None}, "first_name_th", "is required"),
        ({"children": "two"}, "children", "must be of type integer"),
        ({"children": -1}, "children", "at least 0"),
        ({"birth_date": "12/04/1985"}, "birth_date", "valid date"),
        ({"national_id": "12345"}, "national_id", "expected form"),
        ({"nickname": "Chai"}, "nickname", "not a field of this registry"),
        ({"address": {"house_no": 12}}, "address.house_no", "must be of type string"),
        ({"alive": "yes"}, "alive", "must be of type boolean"),
    ],
)
async def test_invalid_data_is_refused_naming_the_field(session, owned, change, field, words):
    actor, code = owned
    with pytest.raises(ValidationFailed) as refused:
        await service.create_record(session, actor=actor, registry_code=code, version="1.0", content=person(**change))
    assert refused.value.field == field
    assert field in str(refused.value) and words in str(refused.value)
    assert refused.value.to_dict()["error"]["field"] == field


async def test_update_is_validated_as_a_whole(session, owned):
    actor, code = owned
    record = await service.create_record(session, actor=actor, registry_code=code, version="1.0", content=person())
    with pytest.raises(ValidationFailed) as refused:
        await service.update_record(
            session, actor=actor, registry_code=code, version="1.0",
            query={"national_id": record.key}, content={"birth_date": None},
        )
    assert refused.value.field == "birth_date"


# --- Uniqueness ---------------------------------------------------------------------------


async def test_duplicate_primary_key_is_a_conflict_until_deleted(session, owned):
    actor, code = owned
    data = person()
    await service.create_record(session, actor=actor, registry_code=code, version="1.0", content=data)
    with pytest.raises(Conflict) as duplicate:
        await service.create_record(session, actor=actor, registry_code=code, version="1.0", content=dict(data))
    assert duplicate.value.code == "duplicate_key" and "national_id" in str(duplicate.value)

    other = await service.create_record(session, actor=actor, registry_code=code, version="1.0", content=person())
    with pytest.raises(Conflict):
        await service.update_record(
            session, actor=actor, registry_code=code, version="1.0",
            query={"national_id": other.key}, content={"national_id": data["national_id"]},
        )

    await service.delete_record(session, actor=actor, registry_code=code, version="1.0", key=data["national_id"])
    again = await service.create_record(session, actor=actor, registry_code=code, version="1.0", content=dict(data))
    assert again.key == data["national_id"]
    await session.commit()


async def test_the_database_refuses_a_second_live_key_too(session, owned):
    """The partial unique index backs the service's check (two writers racing)."""
    from sqlalchemy.exc import IntegrityError

    actor, code = owned
    record = await service.create_record(session, actor=actor, registry_code=code, version="1.0", content=person())
    await session.commit()
    session.add(RegistryRecord(
        registry_version_id=record.registry_version_id, key=record.key, data=record.data,
        created_by="t", updated_by="t",
    ))
    with pytest.raises(IntegrityError):
        await session.flush()
    await session.rollback()


# --- History ------------------------------------------------------------------------------


async def test_every_change_writes_history_with_who_when_and_what(session, owned):
    actor, code = owned
    data = person()
    key = data["national_id"]
    record = await service.create_record(session, actor=actor, registry_code=code, version="1.0", content=data)
    machine = Actor(kind="client", id="gh-tax-system", agency_ids=actor.agency_ids)
    await service.update_record(
        session, actor=machine, registry_code=code, version="1.0", query=None,
        content={"national_id": key, "province": "ลำพูน", "first_name_en": None},
    )
    # Writing the same values again changes nothing and records nothing.
    await service.update_record(
        session, actor=machine, registry_code=code, version="1.0", query=None,
        content={"national_id": key, "province": "ลำพูน"},
    )
    await service.delete_record(session, actor=actor, registry_code=code, version="1.0", key=record.id)
    await session.commit()

    rows = await service.record_history(session, actor=actor, registry_code=code, version="1.0", key=key)
    assert [row.change for row in rows] == ["created", "updated", "deleted"]
    created, updated, deleted = rows
    assert created.before is None and created.after == data and created.actor == "account:officer-1"
    assert updated.before == data and updated.actor == "client:gh-tax-system"
    assert updated.after["province"] == "ลำพูน" and "first_name_en" not in updated.after
    assert deleted.before == updated.after and deleted.after is None
    assert created.at <= updated.at <= deleted.at and created.at.tzinfo is not None
    assert {row.record_id for row in rows} == {record.id}
    assert await service.lookup(session, registry_code=code, version="1.0", key=key) is None


async def test_history_is_append_only(session, owned):
    actor, code = owned
    record = await service.create_record(session, actor=actor, registry_code=code, version="1.0", content=person())
    await session.commit()
    row = (await repository.history_of(session, record.id))[0]
    row.actor = "someone:else"
    with pytest.raises(RuntimeError, match="append-only"):
        await session.flush()
    await session.rollback()


# --- Scoping ------------------------------------------------------------------------------


async def test_callers_see_only_their_agencies_registries(session, owned):
    actor, code = owned
    other_agency = await make_agency(session)
    other_code = await make_registry(session, other_agency)
    mine = (await session.scalars(repository.visible_registries(actor))).all()
    assert code in {r.code for r in mine} and other_code not in {r.code for r in mine}
    assert (await session.scalars(repository.visible_registries(Actor("client", "x", frozenset())))).all() == []

    with pytest.raises(Forbidden) as other:
        await service.read_record(
            session, actor=actor, registry_code=other_code, version="1.0", query={"national_id": "1"}
        )
    assert other.value.code == "other_agency"
    with pytest.raises(NotFound):
        await service.record_exists(session, actor=actor, registry_code="no-such-registry", version="1.0", query={})
    with pytest.raises(NotFound):
        await service.record_exists(session, actor=actor, registry_code=code, version="9.9", query={})

    reader = Actor(kind="client", id="reader", agency_ids=actor.agency_ids, can_write=False)
    with pytest.raises(Forbidden) as scope:
        await service.create_record(session, actor=reader, registry_code=code, version="1.0", content=person())
    assert scope.value.code == "insufficient_scope"


# --- Queries ------------------------------------------------------------------------------


async def test_filters_search_ordering_and_paging_on_json_fields(session, owned):
    actor, code = owned
    people = [
        person(first_name_en="Anong", province="เชียงใหม่", children=0, alive=True),
        person(first_name_en="Boonmee", province="เชียงใหม่", children=3, alive=False),
        person(first_name_en="Chalerm", province="ขอนแก่น", children=3, alive=True),
        person(first_name_en="Dao", province="ภูเก็ต", children=1, alive=True, first_name_th="ดาว"),
    ]
    for data in people:
        await service.create_record(session, actor=actor, registry_code=code, version="1.0", content=data)
    await session.commit()

    async def names(**kw: Any) -> list[str]:
        kw.setdefault("filters", {})
        page = await service.list_records(session, actor=actor, registry_code=code, version="1.0", **kw)
        return [r.data["first_name_en"] for r in page.records]

    assert await names(filters={"province": "เชียงใหม่"}, ordering="first_name_en") == ["Anong", "Boonmee"]
    assert await names(filters={"children": "3"}, ordering="-first_name_en") == ["Chalerm", "Boonmee"]
    assert await names(filters={"alive": "false"}) == ["Boonmee"]
    assert await names(filters={"national_id": people[3]["national_id"]}) == ["Dao"]
    assert await names(filters={"province": "เชียงใหม่", "alive": "true"}) == ["Anong"]
    assert await names(search="ดาว") == ["Dao"]
    assert await names(search="ALER", search_field="first_name_en") == ["Chalerm"]
    assert await names(ordering="children", page_size=2) in (["Anong", "Dao"],)
    page_two = await service.list_records(
        session, actor=actor, registry_code=code, version="1.0", filters={}, ordering="first_name_en",
        page=2, page_size=3,
    )
    assert page_two.total == 4 and [r.data["first_name_en"] for r in page_two.records] == ["Dao"]
    by_key = await names(ordering="descending")
    assert by_key == [p["first_name_en"] for p in sorted(people, key=lambda p: p["national_id"], reverse=True)]

    with pytest.raises(ValidationFailed) as unknown:
        await names(filters={"nickname": "x"})
    assert unknown.value.field == "nickname"
    with pytest.raises(ValidationFailed) as typed:
        await names(filters={"children": "many"})
    assert typed.value.field == "children"
    with pytest.raises(ValidationFailed) as nested:
        await names(filters={"address": "x"})
    assert nested.value.field == "address"

    assert await service.record_exists(
        session, actor=actor, registry_code=code, version="1.0", query={"province": "ภูเก็ต", "children": 1}
    )
    assert not await service.record_exists(
        session, actor=actor, registry_code=code, version="1.0", query={"province": "ภูเก็ต", "children": 2}
    )
    with pytest.raises(ValidationFailed):
        await service.record_exists(session, actor=actor, registry_code=code, version="1.0", query={"children": "1"})


async def test_update_entries_and_ambiguous_updates(session, owned):
    actor, code = owned
    for _ in range(3):
        await service.create_record(
            session, actor=actor, registry_code=code, version="1.0", content=person(province="น่าน")
        )
    with pytest.raises(Conflict) as ambiguous:
        await service.update_record(
            session, actor=actor, registry_code=code, version="1.0", query={"province": "น่าน"},
            content={"alive": False},
        )
    assert ambiguous.value.code == "ambiguous_query"
    with pytest.raises(Conflict):
        await service.update_entries(
            session, actor=actor, registry_code=code, version="1.0", query={"province": "น่าน"},
            content={"national_id": f.national_id()},
        )
    with pytest.raises(ValidationFailed):
        await service.update_entries(
            session, actor=actor, registry_code=code, version="1.0", query={}, content={"alive": False}
        )
    count = await service.update_entries(
        session, actor=actor, registry_code=code, version="1.0", query={"province": "น่าน"},
        content={"province": "แพร่"},
    )
    assert count == 3
    total = await session.scalar(
        select(func.count()).select_from(RegistryRecordHistory).where(RegistryRecordHistory.change == "updated")
        .where(RegistryRecordHistory.after["province"].as_string() == "แพร่")
    )
    assert total >= 3


async def test_update_or_create(session, owned):
    actor, code = owned
    key = f.national_id()
    record, created = await service.update_or_create(
        session, actor=actor, registry_code=code, version="1.0", query={"national_id": key},
        content={"first_name_th": "มานี", "last_name_th": "มีนา", "birth_date": "2001-01-01"},
    )
    assert created and record.data["national_id"] == key
    again, created = await service.update_or_create(
        session, actor=actor, registry_code=code, version="1.0", query={"national_id": key},
        content={"province": "ตรัง"},
    )
    assert not created and again.id == record.id and again.data["province"] == "ตรัง"


# --- Internal entry points ----------------------------------------------------------------


async def test_lookup_by_key(session, owned):
    actor, code = owned
    data = person(address={"house_no": "99/1", "postcode": "50200"})
    await service.create_record(session, actor=actor, registry_code=code, version="1.0", content=data)
    await session.commit()
    assert await service.lookup(session, registry_code=code, version="1.0", key=data["national_id"]) == data
    assert await service.lookup(session, registry_code=code, version="1.0", key="0000000000000") is None
    assert await service.lookup(session, registry_code=code, version="2.0", key=data["national_id"]) is None


async def test_bulk_load_5000_rows(session):
    agency_id = await make_agency(session)
    code = await make_registry(session, agency_id)
    rows = [person(national_id=f"{1100000000000 + i}", first_name_en=f"Person {i}") for i in range(5000)]
    started = time.perf_counter()
    loaded = await service.bulk_load(session, registry_code=code, version="1.0", rows=iter(rows), actor="system:tests")
    await session.commit()
    elapsed = time.perf_counter() - started
    print(f"\nbulk_load: 5,000 rows with history in {elapsed:.2f} s ({5000 / elapsed:,.0f} rows/s)")
    assert loaded == 5000

    version = await repository.version_by_code(session, code, "1.0")
    count = await session.scalar(
        select(func.count()).select_from(RegistryRecord).where(RegistryRecord.registry_version_id == version.id)
    )
    history = await session.scalar(
        select(func.count()).select_from(RegistryRecordHistory)
        .where(RegistryRecordHistory.registry_version_id == version.id, RegistryRecordHistory.change == "created")
    )
    assert count == 5000 and history == 5000
    started = time.perf_counter()
    for i in range(0, 5000, 50):
        found = await service.lookup(session, registry_code=code, version="1.0", key=f"{1100000000000 + i}")
        assert found is not None and found["first_name_en"] == f"Person {i}"
    print(f"lookup: 100 lookups by key in {(time.perf_counter() - started) * 1000:.1f} ms")
    actor = Actor.system("tests", agency_id)
    page = await service.list_records(
        session, actor=actor, registry_code=code, version="1.0", filters={"first_name_en": "Person 4321"}
    )
    assert page.total == 1 and page.records[0].key == "1100000004321"

    with pytest.raises(Conflict):
        await service.bulk_load(session, registry_code=code, version="1.0", rows=[rows[0]], actor="system:tests")
    with pytest.raises(Conflict):
        fresh = person()
        await service.bulk_load(session, registry_code=code, version="1.0", rows=[fresh, fresh], actor="system:tests")
    with pytest.raises(ValidationFailed) as invalid:
        await service.bulk_load(
            session, registry_code=code, version="1.0", rows=[person(), person(birth_date="soon")], actor="system:tests"
        )
    assert invalid.value.field == "birth_date" and "Row 1" in str(invalid.value)
    await session.rollback()
