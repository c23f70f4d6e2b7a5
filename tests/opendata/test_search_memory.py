"""The in-memory search engine: same answers as the database's engine, kept current from the
change sequence, never holding uncommitted writes, built in the background for large catalogs."""

from __future__ import annotations

import asyncio
import secrets
import unittest.mock

import pytest
from sqlalchemy import delete, func, select, update

from govhub.config import get_settings
from govhub.db import unit_of_work
from govhub.opendata import search, search_memory, service
from govhub.opendata.models import Dataset, DatasetState, IndexEntry, IndexState
from govhub.opendata.search import SearchQuery
from govhub.opendata.search_memory import Entry, MemoryIndex, Segment
from tests.opendata.conftest import make_catalog, package


@pytest.fixture(autouse=True)
def memory_engine(monkeypatch):
    """The memory engine, and no result cache (each search must really run)."""
    monkeypatch.setattr(get_settings(), "opendata_search_engine", "memory")
    monkeypatch.setattr(get_settings(), "opendata_search_cache_seconds", 0)
    search_memory.forget()  # each test's first search builds a fresh base (its delta starts empty)


def _count_database_searches(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = search.database_search

    async def counting(session, query, query_terms, descending):
        calls.append(query.q)
        return await real(session, query, query_terms, descending)

    monkeypatch.setattr(search, "database_search", counting)
    return calls


async def _run(query: SearchQuery, engine: str, monkeypatch) -> search.SearchResult:
    monkeypatch.setattr(get_settings(), "opendata_search_engine", engine)
    async with unit_of_work() as session:
        return await search.search(session, query)


async def _names(result: search.SearchResult) -> list[str]:
    async with unit_of_work() as session:
        found = await service.repository.datasets_by_ids(session, result.ids)
    return [dataset.name.rsplit("-", 1)[0] for dataset in found]


def _key() -> str:
    return get_settings().database_url


QUERIES = [
    dict(q="ข้อมูล"), dict(q="ข้อมูลสถิติ"), dict(q="statistics"), dict(q="รถไฟ เวลา"), dict(q=""),
    dict(q="", filters=[("data_type", "statistical")]), dict(q="", filters=[("tags", "ทดสอบ")]),
    dict(q="", filters=[("tags", "ไม่มีคำนี้")]), dict(q="โรงพยาบาล", filters=[("data_type", "statistical")]),
]
SORTS = ["name asc", "name desc", "title_string asc", "metadata_modified desc", "metadata_created asc"]


@pytest.mark.parametrize("shape", QUERIES)
@pytest.mark.parametrize("sort", SORTS)
async def test_the_memory_engine_answers_as_the_database_engine(indexed, monkeypatch, shape, sort):
    catalog, _ = indexed
    filters = [("owner_org", catalog.transport.id), *shape.get("filters", [])]
    facets = ["organization", "groups", "tags", "res_format", "license_id", "data_type", "high_value_dataset"]
    for rows, start in ((50, 0), (2, 1)):
        query = SearchQuery(q=shape["q"], filters=filters, facet_fields=facets, rows=rows, start=start, sort=sort)
        database = await _run(query, "database", monkeypatch)
        calls = _count_database_searches(monkeypatch)
        memory = await _run(query, "memory", monkeypatch)
        assert calls == []  # answered from memory
        assert (memory.ids, memory.count, memory.facets) == (database.ids, database.count, database.facets)


async def test_pages_follow_one_order_without_overlap(indexed, monkeypatch):
    catalog, _ = indexed
    query = dict(q="ข้อมูล", filters=[("owner_org", catalog.transport.id)])
    everything = await _run(SearchQuery(**query, rows=50), "memory", monkeypatch)
    pages = [await _run(SearchQuery(**query, rows=1, start=start), "memory", monkeypatch) for start in range(4)]
    assert everything.count == 3 and all(page.count == 3 for page in pages)
    assert [dataset_id for page in pages for dataset_id in page.ids] == everything.ids
    assert len(set(everything.ids)) == 3


async def test_changes_reach_the_index_as_a_delta_not_a_rebuild(indexed, monkeypatch):
    catalog, names = indexed
    probe = SearchQuery(q="รถโดยสารประจำทาง", filters=[("owner_org", catalog.transport.id)])
    assert await _names(await _run(probe, "memory", monkeypatch)) == ["bus-routes"]
    base = search_memory._holder.indexes[_key()].base
    async with unit_of_work() as session:
        await service.package_update(session, catalog.transport_publisher,
                                     {"id": names["rural-roads"], "title": "ถนนรถโดยสารประจำทาง",
                                      "notes": "ถนนสายใหม่"}, patch=True)
        await service.package_delete(session, catalog.transport_publisher, names["bus-routes"])
        await service.package_create(session, catalog.transport_publisher, package(
            catalog.transport, f"new-line-{secrets.token_hex(3)}", title="รถโดยสารประจำทางสายใหม่"))
    assert set(await _names(await _run(probe, "memory", monkeypatch))) == {"rural-roads", "new-line"}
    assert await _run(SearchQuery(q="ทางหลวง", filters=[("owner_org", catalog.transport.id)]), "memory",
                      monkeypatch) == search.SearchResult([], 0, {})
    index = search_memory._holder.indexes[_key()]
    assert index.base is base and len(index.delta_entries) == 3
    async with unit_of_work() as session:
        state = await search_memory.read_state(session)
    assert index.seq == state[1]


async def test_facet_counts_add_the_delta_to_the_base_exactly(monkeypatch):
    catalog = await make_catalog()
    suffix = secrets.token_hex(3)
    async with unit_of_work() as session:
        for number, tag in enumerate(["ก-หนึ่ง", "ข-สอง"]):
            await service.package_create(session, catalog.transport_publisher, package(
                catalog.transport, f"tagged-{number}-{suffix}", tags=[{"name": tag}]))
    query = SearchQuery(filters=[("owner_org", catalog.transport.id)], facet_fields=["tags"], facet_limit=1)
    # In the base the two tags tie at one dataset each, and the one that sorts first is shown.
    assert (await _run(query, "memory", monkeypatch)).facets["tags"] == {"ก-หนึ่ง": 1}
    async with unit_of_work() as session:
        await service.package_create(session, catalog.transport_publisher, package(
            catalog.transport, f"tagged-2-{suffix}", tags=[{"name": "ข-สอง"}]))
    after = await _run(query, "memory", monkeypatch)
    assert len(search_memory._holder.indexes[_key()].delta_entries) == 1
    # The base's 1 and the delta's 1: the value outside the base's top one must still win.
    assert after.facets["tags"] == {"ข-สอง": 2}
    assert after.facets == (await _run(query, "database", monkeypatch)).facets


async def test_uncommitted_writes_never_enter_the_process_index(indexed, monkeypatch):
    catalog, _ = indexed
    probe = SearchQuery(q="ดาวเทียมสำรวจ", filters=[("owner_org", catalog.transport.id)])
    assert (await _run(probe, "memory", monkeypatch)).count == 0

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon):
        async with unit_of_work() as session:
            await service.package_create(session, catalog.transport_publisher, package(
                catalog.transport, f"satellite-{secrets.token_hex(3)}", title="ภาพถ่ายดาวเทียมสำรวจ"))
            # Searched inside the writing transaction: the index reads committed rows only.
            assert (await search.search(session, probe)).count == 0
            raise Abandon
    held = search_memory._holder.indexes[_key()].seq
    # The rolled-back number is taken again by the next committed change, which must not be missed.
    async with unit_of_work() as session:
        await service.package_create(session, catalog.transport_publisher, package(
            catalog.transport, f"satellite-{secrets.token_hex(3)}", title="ดาวเทียมสำรวจทรัพยากร"))
    assert (await _run(probe, "memory", monkeypatch)).count == 1
    assert search_memory._holder.indexes[_key()].seq == held + 1


async def test_a_large_catalog_is_built_in_the_background_while_the_database_answers(indexed, monkeypatch):
    catalog, _ = indexed
    monkeypatch.setattr(get_settings(), "opendata_search_memory_inline_build", 0)
    search_memory.forget()
    calls = _count_database_searches(monkeypatch)
    probe = SearchQuery(q="รถโดยสารประจำทาง", filters=[("owner_org", catalog.transport.id)])
    assert await _names(await _run(probe, "memory", monkeypatch)) == ["bus-routes"]
    assert calls == ["รถโดยสารประจำทาง"]  # the database answered while the index was built
    await search_memory._holder.building[_key()]
    assert await _names(await _run(probe, "memory", monkeypatch)) == ["bus-routes"]
    assert calls == ["รถโดยสารประจำทาง"]  # now from memory


async def test_a_grown_delta_is_merged_into_a_new_base(indexed, monkeypatch):
    catalog, names = indexed
    monkeypatch.setattr(search_memory, "COMPACT_AFTER", 2)
    probe = SearchQuery(q="ทางด่วน", filters=[("owner_org", catalog.transport.id)], rows=50)
    await _run(probe, "memory", monkeypatch)
    base = search_memory._holder.indexes[_key()].base
    for key in ("rural-roads", "tourism"):
        async with unit_of_work() as session:
            await service.package_update(session, catalog.transport_publisher,
                                         {"id": names[key], "notes": "ใกล้ทางด่วน"}, patch=True)
        await _run(probe, "memory", monkeypatch)
    await search_memory._holder.building[_key()]
    index = search_memory._holder.indexes[_key()]
    assert index.base is not base and index.delta_entries == {}
    assert set(await _names(await _run(probe, "memory", monkeypatch))) == {"rural-roads", "tourism"}


async def test_name_filters_are_answered_by_the_database(indexed, monkeypatch):
    _catalog, names = indexed
    calls = _count_database_searches(monkeypatch)
    result = await _run(SearchQuery(filters=[("name", names["tourism"])]), "memory", monkeypatch)
    assert await _names(result) == ["tourism"] and len(calls) == 1


async def test_reindex_fills_the_entries_of_a_catalog_indexed_before_them(indexed, monkeypatch):
    catalog, _ = indexed
    async with unit_of_work() as session:
        await session.execute(update(IndexState).values(complete=False))
        await session.execute(delete(IndexEntry))
    calls = _count_database_searches(monkeypatch)
    probe = SearchQuery(q="จัดซื้อจัดจ้าง", filters=[("owner_org", catalog.transport.id)])
    assert await _names(await _run(probe, "memory", monkeypatch)) == ["procurement"]
    assert calls == ["จัดซื้อจัดจ้าง"]  # incomplete entries: the database's engine answered
    reindexed = await service.reindex_catalog(batch=7)
    async with unit_of_work() as session:
        datasets = (await session.execute(select(func.count()).select_from(Dataset)
                                          .where(Dataset.state != DatasetState.DELETED))).scalar_one()
        entries = (await session.execute(select(func.count()).select_from(IndexEntry)
                                          .where(IndexEntry.present.is_(True)))).scalar_one()
        assert (await search_memory.read_state(session))[2] is True
    assert entries == datasets and reindexed >= datasets
    assert await _names(await _run(probe, "memory", monkeypatch)) == ["procurement"]
    assert calls == ["จัดซื้อจัดจ้าง"]


async def test_a_replaced_database_is_never_answered_from_the_old_index(indexed, monkeypatch):
    catalog, _ = indexed
    probe = SearchQuery(q="สถานที่ท่องเที่ยว", filters=[("owner_org", catalog.transport.id)])
    assert (await _run(probe, "memory", monkeypatch)).count == 1
    before = search_memory._holder.indexes[_key()]
    async with unit_of_work() as session:
        await session.execute(update(IndexState).values(generation="another-database"))
    assert (await _run(probe, "memory", monkeypatch)).count == 1
    assert search_memory._holder.indexes[_key()] is not before
    assert search_memory._holder.indexes[_key()].generation == "another-database"
    await asyncio.sleep(0)


async def test_reindexing_never_writes_back_an_older_copy_of_a_dataset_edited_meanwhile(monkeypatch):
    """An edit made while a batch is reindexed lands after it: a dataset made private stays hidden."""
    catalog = await make_catalog()
    suffix = secrets.token_hex(3)
    async with unit_of_work() as session:
        for number in range(3):
            await service.package_create(session, catalog.transport_publisher, package(
                catalog.transport, f"race-{number}-{suffix}", title=f"รายงาน {number}"))
    real = service.reindex
    edits: list[asyncio.Task[None]] = []

    async def make_private() -> None:
        async with unit_of_work() as other:
            await service.package_update(other, catalog.transport_publisher, {
                "id": f"race-2-{suffix}", "private": True, "data_category": "internal"}, patch=True)

    async def reindex_with_a_concurrent_edit(session, dataset):
        if not edits:
            edits.append(asyncio.create_task(make_private()))
            await asyncio.sleep(0.3)  # the edit runs until it waits for the batch's lock
        await real(session, dataset)

    monkeypatch.setattr(service, "reindex", reindex_with_a_concurrent_edit)
    await service.reindex_catalog(batch=100_000)
    await edits[0]
    anonymous = SearchQuery(filters=[("owner_org", catalog.transport.id)], rows=50)
    assert (await _run(anonymous, "database", monkeypatch)).count == 2
    assert (await _run(anonymous, "memory", monkeypatch)).count == 2


async def test_reindexing_and_an_edit_take_the_index_locks_in_one_order(monkeypatch):
    """An edit of a dataset in a batch being reindexed waits for the batch, never deadlocks with it (PostgreSQL)."""
    catalog = await make_catalog()
    suffix = secrets.token_hex(3)
    async with unit_of_work() as session:
        created = [await service.package_create(session, catalog.transport_publisher, package(
            catalog.transport, f"dl-{number}-{suffix}", title=f"รายงาน {number}")) for number in range(3)]
    target = max(created, key=lambda dataset: dataset.id)
    real = service.reindex
    tasks: list[asyncio.Task[None]] = []

    async def edit() -> None:
        async with unit_of_work() as other:
            await service.package_update(other, catalog.transport_publisher,
                                         {"id": target.id, "title": "แก้ไขแล้ว"}, patch=True)

    async def reindex_then_let_an_edit_start(session, dataset):
        await real(session, dataset)
        if not tasks and dataset.id < target.id:
            monkeypatch.setattr(service, "reindex", real)
            tasks.append(asyncio.create_task(edit()))
            await asyncio.sleep(0.5)  # the edit runs up to the state row's lock
            monkeypatch.setattr(service, "reindex", reindex_then_let_an_edit_start)

    monkeypatch.setattr(service, "reindex", reindex_then_let_an_edit_start)
    errors = []
    try:
        await service.reindex_catalog(batch=100_000)
    except Exception as error:  # noqa: BLE001
        errors.append(("reindex", repr(error)[:200]))
    try:
        await tasks[0]
    except Exception as error:  # noqa: BLE001
        errors.append(("edit", repr(error)[:200]))
    assert errors == []


async def test_concurrent_first_searches_share_one_build(monkeypatch):
    """Searches arriving while a process builds its index wait for that build."""
    catalog = await make_catalog()
    async with unit_of_work() as session:
        await service.package_create(session, catalog.transport_publisher, package(
            catalog.transport, f"cold-{secrets.token_hex(3)}"))
    search_memory.forget()
    builds = []
    real = search_memory._build

    async def counting(generation):
        builds.append(generation)
        return await real(generation)

    monkeypatch.setattr(search_memory, "_build", counting)

    async def one() -> search.SearchResult:
        async with unit_of_work() as session:
            return await search.search(session, SearchQuery(filters=[("owner_org", catalog.transport.id)]))

    results = await asyncio.gather(*[one() for _ in range(8)])
    assert all(result.count == 1 for result in results)
    assert len(builds) == 1


def test_a_value_only_the_delta_has_costs_no_count_of_every_base_value():
    """Facet merging stays O(limit) in Python when the delta brings a value the base lacks."""
    def entry(number: int, tag: str) -> Entry:
        return Entry(f"id{number:07d}", True, "org", True, False, ("word",), (), (), (("tags", tag),),
                     f"name{number}", "title", float(number), float(number))

    base = Segment(entry(number, f"tag{number}") for number in range(50_000))
    index = MemoryIndex("g", 1, base).with_changes(2, [entry(9_999_999, "brand-new-tag")])
    materialized = []
    real = search_memory._top_values

    def recording(column, counts, limit):
        result = real(column, counts, limit)
        materialized.append(len(result))
        return result

    with unittest.mock.patch.object(search_memory, "_top_values", recording):
        _ids, _count, facets = index.search(SearchQuery(facet_fields=["tags"], facet_limit=10,
                                                        sort="metadata_modified desc"), [], True)
    assert len(facets["tags"]) == 10
    assert max(materialized) <= 11


async def test_both_engines_match_thai_words_with_vowel_marks_whole(monkeypatch):
    """"ปี" (year) is neither "ปู" (crab) nor "ป่า": on SQLite too (FTS5 keeps marks in tokens)."""
    catalog = await make_catalog()
    async with unit_of_work() as session:
        await service.package_create(session, catalog.transport_publisher, package(
            catalog.transport, f"crab-{secrets.token_hex(3)}", title="ข้อมูลปู", notes="", tags=[]))
    query = SearchQuery(q="ปี", filters=[("owner_org", catalog.transport.id)])
    database = await _run(query, "database", monkeypatch)
    memory = await _run(query, "memory", monkeypatch)
    assert (memory.count, memory.ids) == (database.count, database.ids)


async def test_the_reindex_command_completes_the_entries_under_a_new_generation(indexed, monkeypatch):
    from typer.testing import CliRunner

    from govhub.cli import app

    catalog, _ = indexed
    async with unit_of_work() as session:
        before = await search_memory.read_state(session)
        await session.execute(update(IndexState).values(complete=False))
        await session.execute(delete(IndexEntry))
    # The command runs its own event loop, so in a thread of its own.
    outcome = await asyncio.to_thread(CliRunner().invoke, app, ["opendata", "reindex"])
    assert outcome.exit_code == 0, outcome.output
    assert "datasets reindexed" in outcome.output
    async with unit_of_work() as session:
        after = await search_memory.read_state(session)
    assert after[2] is True and after[0] != before[0] and after[1] > before[1]
    calls = _count_database_searches(monkeypatch)
    probe = SearchQuery(q="จัดซื้อจัดจ้าง", filters=[("owner_org", catalog.transport.id)])
    assert await _names(await _run(probe, "memory", monkeypatch)) == ["procurement"]
    assert calls == []
