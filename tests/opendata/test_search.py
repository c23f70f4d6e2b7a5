"""Word-level Thai search and stemmed English search, ranking, facets and visibility, on both
engines: the in-memory index (search_memory) and the database's own full-text engine (FTS5 on
SQLite, tsvector on PostgreSQL)."""

from __future__ import annotations

import secrets

import pytest

from govhub.db import unit_of_work
from govhub.kit.errors import ValidationFailed
from govhub.opendata import search, service
from govhub.opendata.search import SearchQuery, terms
from tests.opendata.conftest import DATASETS, Catalog, package


@pytest.fixture(autouse=True, params=["memory", "database"])
def engine(request, monkeypatch) -> str:
    """Every test runs on each engine; on "memory" the database engine must never be asked."""
    monkeypatch.setattr(service.get_settings(), "opendata_search_engine", request.param)
    if request.param == "memory":
        async def refuse(*_args, **_kw):
            raise AssertionError("the in-memory engine fell back to the database")

        monkeypatch.setattr(search, "database_search", refuse)
    return request.param


async def _found(catalog: Catalog, q: str, **kw) -> list[str]:
    async with unit_of_work() as session:
        result = await search.search(session, SearchQuery(q=q, filters=[("owner_org", catalog.transport.id)],
                                                          rows=50, **kw))
        datasets = await service.repository.datasets_by_ids(session, result.ids)
    return [dataset.name.rsplit("-", 1)[0] for dataset in datasets]


@pytest.mark.parametrize(("query", "expected"), [
    ("ข้อมูลสถิติ", {"population"}),
    ("รถโดยสารประจำทาง", {"bus-routes"}),
    ("จัดซื้อจัดจ้าง", {"procurement"}),
    ("ตา", {"eye-health"}),  # not ตาราง (timetable) nor สายตา inside another word
    ("ทาง", set()),  # not ทางหลวง, not เส้นทาง, not ประจำทาง
    ("จัดซื้อ", {"vaccine-purchase"}),  # the word จัดซื้อ, not the compound จัดซื้อจัดจ้าง
    ("สถิติ", {"population"}),
])
async def test_thai_queries_match_whole_words(indexed, query, expected):
    catalog, _names = indexed
    assert set(await _found(catalog, query)) == expected


async def test_thai_query_in_a_sentence_matches_every_word(indexed):
    catalog, _ = indexed
    assert await _found(catalog, "เส้นทางรถโดยสารประจำทางในกรุงเทพมหานคร") == ["bus-routes"]
    assert await _found(catalog, "ข้อมูล") and set(await _found(catalog, "ข้อมูล")) == {
        "population", "procurement", "tourism"}


@pytest.mark.parametrize(("query", "expected"), [
    ("statistics", {"population", "hospital-beds"}),  # "statistical" in a description stems alike
    ("statistic", {"population", "hospital-beds"}),
    ("hospitals", {"hospital-beds"}),
    ("Bus ROUTE", {"bus-routes"}),
    ("purchasing", {"vaccine-purchase"}),
])
async def test_english_queries_are_stemmed(indexed, query, expected):
    catalog, _ = indexed
    assert set(await _found(catalog, query)) == expected


async def test_title_matches_rank_above_description_matches(indexed):
    catalog, _ = indexed
    # "โรงพยาบาล" is in the hospital dataset's title and only in the vaccine dataset's description.
    assert await _found(catalog, "โรงพยาบาล") == ["hospital-beds", "vaccine-purchase"]


async def test_facets_count_the_matches(indexed):
    catalog, _ = indexed
    async with unit_of_work() as session:
        result = await search.search(session, SearchQuery(
            q="สถิติ", filters=[("owner_org", catalog.transport.id)],
            facet_fields=["data_type", "organization", "tags", "license_id"]))
        assert result.count == 1
        assert result.facets["data_type"] == {"statistical": 1}
        assert result.facets["organization"] == {catalog.transport.name: 1}
        browse = await search.search(session, SearchQuery(filters=[("owner_org", catalog.transport.id)],
                                                          facet_fields=["data_type", "tags"]))
        assert browse.count == len(DATASETS)
        assert browse.facets["data_type"] == {"record": 6, "statistical": 3}
        assert browse.facets["tags"]["ขนส่งสาธารณะ"] == 1
        filtered = await search.search(session, SearchQuery(
            filters=[("owner_org", catalog.transport.id), ("data_type", "statistical"), ("tags", "ทดสอบ")]))
        assert filtered.count == 3


async def test_edits_and_deletions_reach_the_index(indexed):
    catalog, names = indexed
    async with unit_of_work() as session:
        await service.package_update(session, catalog.transport_publisher,
                                     {"id": names["rural-roads"], "title": "ถนนรถโดยสารประจำทางสายใหม่",
                                      "notes": "ถนนสายใหม่"}, patch=True)
        await service.package_delete(session, catalog.transport_publisher, names["bus-routes"])
    assert await _found(catalog, "รถโดยสารประจำทาง") == ["rural-roads"]
    assert await _found(catalog, "ทางหลวง") == []  # the old title left the index


async def test_private_datasets_and_drafts_are_found_only_by_their_organization(indexed):
    catalog, _ = indexed
    suffix = secrets.token_hex(3)
    async with unit_of_work() as session:
        await service.package_create(session, catalog.transport_publisher, package(
            catalog.transport, f"secret-{suffix}", title="ข้อมูลสถิติภายใน", private=True, data_category="internal"))
        await service.package_create(session, catalog.transport_publisher, package(
            catalog.transport, f"draft-{suffix}", title="ข้อมูลสถิติฉบับร่าง", state="draft"))
    assert set(await _found(catalog, "ข้อมูลสถิติ")) == {"population"}
    member = catalog.transport_member
    assert set(await _found(catalog, "ข้อมูลสถิติ", include_private=True, include_drafts=True,
                            private_org_ids=member.member_org_ids)) == {"population", "secret", "draft"}
    outsider = catalog.finance_publisher
    assert set(await _found(catalog, "ข้อมูลสถิติ", include_private=True, include_drafts=True,
                            private_org_ids=outsider.member_org_ids)) == {"population"}


async def test_queries_that_could_break_a_parser_find_nothing_harmlessly(indexed):
    catalog, _ = indexed
    for hostile in ['"', "'", "\\", "a OR b", "NEAR(x y)", "title:x", "x*", "-", "!!!", "')) OR 1=1 --", "&|!"]:
        await _found(catalog, hostile)  # must not raise
    assert await _found(catalog, "   ") != []  # blank: browse everything


def test_fq_parsing_refuses_unknown_fields_and_accepts_ckan_forms():
    assert search.parse_fq('organization:bmta tags:"ขนส่ง สาธารณะ" +res_format:CSV') == [
        ("organization", "bmta"), ("tags", "ขนส่ง สาธารณะ"), ("res_format", "CSV")]
    with pytest.raises(ValidationFailed):
        search.parse_fq("creator_user_id:x")
    with pytest.raises(ValidationFailed):
        search.parse_fq("organization:x OR 1=1")


def test_terms_segment_thai_and_stem_english():
    assert terms("ข้อมูลสถิติ") == ["ข้อมูล", "สถิติ"]
    assert terms("Statistics of Hospitals") == ["statist", "hospit"]
    assert terms("COVID-19 ผู้ป่วย") == ["covid", "19", "ผู้ป่วย"]


async def test_the_result_cache_answers_repeats_and_never_outlives_a_change(indexed, monkeypatch):
    catalog, names = indexed
    monkeypatch.setattr(service.get_settings(), "opendata_search_cache_seconds", 60)
    computed = []
    real = search.search_uncached

    async def counting(session, query, **kw):
        computed.append(query.q)
        return await real(session, query, **kw)

    monkeypatch.setattr(search, "search_uncached", counting)
    assert await _found(catalog, "รถโดยสารประจำทาง") == ["bus-routes"]
    assert await _found(catalog, "รถโดยสารประจำทาง") == ["bus-routes"]
    assert computed == ["รถโดยสารประจำทาง"]  # the repeat came from the cache
    async with unit_of_work() as session:
        await service.package_update(session, catalog.transport_publisher,
                                     {"id": names["train-timetable"], "title": "รถโดยสารประจำทางสายใหม่"}, patch=True)
    assert set(await _found(catalog, "รถโดยสารประจำทาง")) == {"bus-routes", "train-timetable"}
    async with unit_of_work() as session:
        await service.package_delete(session, catalog.transport_publisher, names["bus-routes"])
    assert await _found(catalog, "รถโดยสารประจำทาง") == ["train-timetable"]
    assert len(computed) == 3
