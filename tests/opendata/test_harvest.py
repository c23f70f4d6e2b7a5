"""Harvesting from a CKAN portal with Thai GDC labels and from DCAT catalogs, over real HTTP."""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from govhub.db import unit_of_work
from govhub.opendata import dcat, harvest, search, service
from govhub.opendata.models import Dataset, DatasetRevision, DatasetState, Organization
from tests.opendata.ckan_fake_app import FakePortal, ServedApp, gdc_record
from tests.opendata.conftest import Catalog, package


@pytest.fixture
def portal() -> Iterator[tuple[FakePortal, str]]:
    """A fresh remote portal, served on its own port (so each test is its own harvest source)."""
    state = FakePortal()
    with ServedApp(state.app()) as served:
        yield state, served.url


def _org(suffix: str, name: str = "remote-bmta") -> dict[str, Any]:
    return {"id": f"org-{suffix}", "name": f"{name}-{suffix}", "title": "องค์การขนส่งมวลชนกรุงเทพ (ต้นทาง)",
            "description": "หน่วยงานต้นทาง", "image_url": "", "type": "organization", "is_organization": True}


def _fill(state: FakePortal, suffix: str, count: int = 3, **overrides: Any) -> list[dict[str, Any]]:
    organization = _org(suffix)
    return [state.put(gdc_record(f"remote-{suffix}-{index}", f"remote-{index}-{suffix}", organization, **overrides))
            for index in range(count)]


async def _local(source: str) -> dict[str, Dataset]:
    async with unit_of_work() as session:
        rows = (await session.execute(select(Dataset).where(Dataset.harvest_source == source))).scalars().all()
        session.expunge_all()
        return {row.harvest_remote_id: row for row in rows}  # type: ignore[misc]


async def _revisions(dataset_id: str) -> list[DatasetRevision]:
    async with unit_of_work() as session:
        rows = (await session.execute(select(DatasetRevision).where(DatasetRevision.dataset_id == dataset_id)
                                      .order_by(DatasetRevision.number))).scalars().all()
        session.expunge_all()
        return list(rows)


async def _revision_count(source: str) -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(
            select(func.count()).select_from(DatasetRevision).join(Dataset, Dataset.id == DatasetRevision.dataset_id)
            .where(Dataset.harvest_source == source)) or 0)


def _counts(report: harvest.HarvestReport, **expected: int) -> None:
    wanted = dict.fromkeys(("created", "updated", "unchanged", "skipped", "deleted", "failed"), 0)
    wanted.update(expected)
    assert report.counts == wanted, (report.counts, report.failures, report.error)


# ---------------------------------------------------------------- CKAN


async def test_a_ckan_portal_is_harvested_with_its_thai_gdc_labels(portal):
    state, url = portal
    suffix = secrets.token_hex(3)
    records = _fill(state, suffix)
    state.put(gdc_record(f"nope-{suffix}", f"no-harvest-{suffix}", _org(suffix), allow_harvest="False"))
    state.put(gdc_record(f"private-{suffix}", f"private-{suffix}", _org(suffix), private=True))
    state.put(gdc_record(f"deleted-{suffix}", f"deleted-{suffix}", _org(suffix), state="deleted"))
    report = await harvest.harvest(url)
    assert report.kind == "ckan" and report.exit_code == 0
    _counts(report, created=3, skipped=1)
    local = await _local(url)
    assert set(local) == {record["id"] for record in records}
    dataset = local[records[0]["id"]]
    assert dataset.name == records[0]["name"] and dataset.state == DatasetState.ACTIVE and not dataset.private
    assert dataset.title == records[0]["title"]
    assert dataset.dataset_type == "statistical"
    assert dataset.objectives == ["national_strategy", "public_service"]
    assert (dataset.update_frequency_unit, dataset.update_frequency_interval) == ("year", 1)
    assert dataset.geo_coverage == "country"
    assert (dataset.data_category, dataset.data_classification) == ("public", "open")
    assert dataset.data_languages == ["th"] and dataset.data_formats == ["csv", "database"]
    assert dataset.high_value is True and dataset.reference_data is False and dataset.license_id == "Open-D"
    # Buddhist-era dates and years, as GDC portals send them, are stored as Gregorian.
    assert dataset.data_created == date(2023, 1, 15) and dataset.data_updated == date(2024, 6, 30)
    assert dataset.type_fields == {"first_year_of_data": 2015, "last_year_of_data": 2023, "unit_of_measure": "คน"}
    assert dataset.url == f"{url}/dataset/{records[0]['name']}"
    assert dataset.extras["data_support"] == "หน่วยงานของรัฐ"
    assert dataset.extras[harvest.REMOTE_MODIFIED_EXTRA] == records[0]["metadata_modified"]
    async with unit_of_work() as session:
        shown = await service.package_show(session, service.ANONYMOUS, dataset.name)
        organization = await session.get(Organization, dataset.organization_id)
        found = await search.search(session, search.SearchQuery(q="ชุดข้อมูล", filters=[
            ("organization", organization.name)], rows=10))  # type: ignore[union-attr]
    # A keyword with a slash (which our keywords may not hold) is kept with a space.
    assert sorted(tag["name"] for tag in shown["tags"]) == ["ภาษี อากร", "สถิติ"]
    assert [(r["name"], r["format"], r["url"]) for r in shown["resources"]] == [
        ("ข้อมูล CSV", "CSV", records[0]["resources"][0]["url"])]
    assert organization.name == f"remote-bmta-{suffix}" and organization.harvest_source == url  # type: ignore[union-attr]
    assert organization.title_th == "องค์การขนส่งมวลชนกรุงเทพ (ต้นทาง)"  # type: ignore[union-attr]
    assert found.count == 3
    [revision] = await _revisions(dataset.id)
    assert revision.action == "created" and revision.actor_label == f"harvest: {url}"
    assert any("ภาษี/อากร" in warning.message for warning in report.warnings)


async def test_a_second_run_changes_nothing_and_a_remote_change_updates_one_dataset(portal):
    state, url = portal
    suffix = secrets.token_hex(3)
    records = _fill(state, suffix, count=4)
    _counts(await harvest.harvest(url), created=4)
    revisions = await _revision_count(url)
    before = await _local(url)
    state.requests.clear()

    again = await harvest.harvest(url)
    # Incremental: only the newest record (at the cursor) is read again, and found unchanged.
    _counts(again, unchanged=1)
    searches = [request for request in state.requests if "package_search" in request]
    assert "fq=metadata_modified" in searches[0] and "fl=id" in searches[-1]
    assert await _revision_count(url) == revisions
    after = await _local(url)
    assert {key: row.metadata_modified for key, row in after.items()} == {
        key: row.metadata_modified for key, row in before.items()}

    # The whole source again from the start (--since long ago): still nothing changes.
    _counts(await harvest.harvest(url, since=harvest.parse_time("2000-01-01")), unchanged=4)
    assert await _revision_count(url) == revisions

    changed = {**records[1], "title": "ชุดข้อมูลที่แก้ไขแล้ว", "notes": "คำอธิบายใหม่"}
    changed["resources"] = [*records[1]["resources"], {"id": "new", "name": "แผนที่", "format": "GeoJSON",
                                                       "url": "https://remote.example.go.th/map.geojson"}]
    state.put(changed)
    report = await harvest.harvest(url)
    _counts(report, updated=1, unchanged=1)  # and the record at the cursor, read again
    assert await _revision_count(url) == revisions + 1
    dataset = (await _local(url))[records[1]["id"]]
    assert dataset.title == "ชุดข้อมูลที่แก้ไขแล้ว" and dataset.revision == 2
    latest = (await _revisions(dataset.id))[-1]
    assert latest.action == "updated" and latest.actor_label == f"harvest: {url}"
    assert set(latest.changes) == {"title", "notes", "resources", "extras"}
    old_resources, new_resources = latest.changes["resources"]
    # The unchanged file kept its id; the new one was added after it.
    assert old_resources[0]["id"] == new_resources[0]["id"] and new_resources[1]["format"] == "GEOJSON"
    for other in (records[0], records[2], records[3]):
        assert len(await _revisions(after[other["id"]].id)) == 1


async def test_remote_deletions_and_withdrawn_permission_mark_local_copies_deleted(portal):
    state, url = portal
    suffix = secrets.token_hex(3)
    records = _fill(state, suffix, count=4)
    _counts(await harvest.harvest(url), created=4)
    state.put({**records[0], "state": "deleted"})  # CKAN's package_delete: gone from package_search
    del state.packages[records[1]["id"]]  # purged
    state.put({**records[2], "allow_harvest": "False"})  # the publisher withdrew permission
    report = await harvest.harvest(url)
    _counts(report, deleted=3, unchanged=1)
    local = await _local(url)
    assert [local[record["id"]].state for record in records] == [DatasetState.DELETED] * 3 + [DatasetState.ACTIVE]
    assert (await _revisions(local[records[0]["id"]].id))[-1].action == "deleted"
    async with unit_of_work() as session:
        with pytest.raises(service.DatasetNotFound):
            await service.package_show(session, service.ANONYMOUS, local[records[0]["id"]].name)
    _counts(await harvest.harvest(url), unchanged=1, skipped=1)
    # Back on the remote: the same local dataset comes back, as an update.
    state.put({**records[2], "allow_harvest": "True"})
    _counts(await harvest.harvest(url), updated=1, unchanged=1)
    revived = (await _local(url))[records[2]["id"]]
    assert revived.state == DatasetState.ACTIVE and revived.id == local[records[2]["id"]].id


async def test_a_malformed_record_is_reported_and_the_others_are_imported(portal):
    state, url = portal
    suffix = secrets.token_hex(3)
    organization = _org(suffix)
    good = state.put(gdc_record(f"good-{suffix}", f"good-{suffix}", organization))
    state.put({**gdc_record("", f"no-id-{suffix}", organization), "id": ""})
    bad_resources = state.put(gdc_record(f"badres-{suffix}", f"badres-{suffix}", organization,
                                         resources={"url": "https://x.example/a.csv"}))
    too_long = state.put(gdc_record(f"long-{suffix}", f"long-{suffix}", organization, title="ก" * 600))
    odd = state.put(gdc_record(
        f"odd-{suffix}", f"odd-{suffix}", organization, data_type="ข้อมูลแปลก", update_frequency_unit="",
        geo_coverage=None, objective="{วัตถุประสงค์ที่ไม่มีในรายการ}", maintainer_email="ไม่มี", license_id="WTFPL", license_title="WTFPL",
        data_category="", data_classification=None, created_date="เมื่อปีที่แล้ว",
        resources=[{"name": "ftp", "url": "ftp://remote.example/a.csv", "format": "CSV"}]))
    report = await harvest.harvest(url)
    _counts(report, created=2, failed=3)
    assert report.exit_code == 1
    failures = {problem.remote_id: problem.message for problem in report.failures}
    assert failures[bad_resources["id"]] == "resources is not a list"
    assert failures[""] == "the record has no id"
    assert failures[too_long["id"]].startswith("title:")
    local = await _local(url)
    assert set(local) == {good["id"], odd["id"]}
    # Unknown or missing GDC values got the documented defaults, each with a warning.
    imported = local[odd["id"]]
    assert (imported.dataset_type, imported.update_frequency_unit, imported.geo_coverage, imported.objectives) == (
        "other", "other", "unknown", ["other"])
    assert (imported.data_category, imported.data_classification, imported.license_id) == ("public", "open", "notspecified")
    assert imported.maintainer_email == "" and imported.data_created is None and imported.type_fields == {}
    warnings = [problem.message for problem in report.warnings if problem.remote_id == odd["id"]]
    for expected in ("data_type", "objective", "license_id", "maintainer_email", "created_date", "resources",
                     "unit_of_measure"):
        assert any(message.startswith(expected) for message in warnings), (expected, warnings)
    # A failed record is not taken for gone: its earlier copy would have been kept.
    assert bad_resources["id"] in {problem.remote_id for problem in report.failures}


async def test_names_that_collide_get_a_suffix_and_organizations_a_prefix(portal, catalog: Catalog):
    state, url = portal
    suffix = secrets.token_hex(3)
    async with unit_of_work() as session:
        await service.package_create(session, catalog.finance_publisher, package(catalog.finance, f"budget-{suffix}"))
    clash_org = {**_org(suffix), "name": catalog.finance.name}
    record = state.put(gdc_record(f"clash-{suffix}", f"budget-{suffix}", clash_org))
    _counts(await harvest.harvest(url), created=1)
    harvested = (await _local(url))[record["id"]]
    assert harvested.name == f"budget-{suffix}-2"
    assert harvested.organization_id != catalog.finance.id
    async with unit_of_work() as session:
        organization = await session.get(Organization, harvested.organization_id)
    assert organization.name == f"127-0-0-1-{url.rsplit(':', 1)[1]}-{catalog.finance.name}"  # type: ignore[union-attr]
    assert organization.harvest_source == url and organization.agency_id is None  # type: ignore[union-attr]
    # The next dataset of that remote organization goes to the same local one.
    other = state.put(gdc_record(f"clash2-{suffix}", f"budget2-{suffix}", clash_org))
    _counts(await harvest.harvest(url), created=1, unchanged=1)
    assert (await _local(url))[other["id"]].organization_id == harvested.organization_id


async def test_organization_option_and_dry_run(portal, catalog: Catalog):
    state, url = portal
    suffix = secrets.token_hex(3)
    _fill(state, suffix, count=2)
    dry = await harvest.harvest(url, organization=catalog.transport.name, dry_run=True)
    _counts(dry, created=2)
    assert dry.dry_run and await _local(url) == {}
    _counts(await harvest.harvest(url, organization=catalog.transport.name), created=2)
    assert {row.organization_id for row in (await _local(url)).values()} == {catalog.transport.id}
    missing = await harvest.harvest(url, organization="no-such-organization")
    assert missing.exit_code == 2 and "no-such-organization" in (missing.error or "")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_sources_that_cannot_be_read_exit_2(portal):
    state, url = portal
    unreachable = await harvest.harvest(f"http://127.0.0.1:{_closed_port()}")
    assert unreachable.exit_code == 2 and "ConnectError" in (unreachable.error or "")
    to_file = await harvest.harvest(f"{url}/redirect-to-file")
    assert to_file.exit_code == 2 and "only http and https" in (to_file.error or "")
    huge = await harvest.harvest(f"{url}/huge.ttl", max_bytes=100_000)
    assert huge.exit_code == 2 and "larger than" in (huge.error or "")
    assert (await harvest.harvest("file:///etc/passwd")).exit_code == 2
    assert (await harvest.harvest(f"{url}/dcat/nothing-here")).exit_code == 2
    state.documents["remote-context.jsonld"] = (b'{"@context": "https://schema.org", "@type": "Dataset"}',
                                                "application/ld+json")
    remote_context = await harvest.harvest(f"{url}/dcat/remote-context.jsonld")
    assert remote_context.exit_code == 2 and "remote @context" in (remote_context.error or "")
    elsewhere = dcat.catalog_graph([], page=1, page_size=1, total=2, base_url="https://remote.example",
                                   page_url=lambda number: f"http://169.254.169.254/latest/{number}.ttl")
    state.documents["elsewhere.ttl"] = (dcat.serialize(elsewhere, "turtle")[0], "text/turtle")
    sent_away = await harvest.harvest(f"{url}/dcat/elsewhere.ttl")
    assert sent_away.exit_code == 2 and "on another host" in (sent_away.error or "")


# ---------------------------------------------------------------- DCAT


def _remote_package(suffix: str, index: int, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f"dcat-{suffix}-{index}", "name": f"dcat-{index}-{suffix}", "title": f"ป้ายรถเมล์ชุดที่ {index}",
        "title_en": f"Bus stops {index}", "notes": "ตำแหน่งป้ายหยุดรถโดยสารประจำทาง",
        "tags": [{"name": "ป้ายรถเมล์"}, {"name": "bus"}],
        "organization": {"name": f"remote-nso-{suffix}", "title": "สำนักงานสถิติแห่งชาติ", "title_en": "National Statistical Office"},
        "update_frequency_unit": "quarter", "update_frequency_interval": 1, "geo_coverage": "province",
        "data_language": ["th", "en"], "license_id": "cc-by", "license_title": "CC BY", "data_category": "public",
        "data_classification": "open", "data_type": "geospatial", "objective": ["public_service"],
        "west_bound_longitude": 100.3, "east_bound_longitude": 100.9, "south_bound_latitude": 13.5,
        "north_bound_latitude": 14.0, "high_value_dataset": True, "reference_data": False, "allow_harvest": True,
        "groups": [], "maintainer": "ฝ่ายข้อมูล", "maintainer_email": "data@nso.example.go.th",
        "resources": [{"id": f"r-{index}", "name": "ป้าย (GeoJSON)", "format": "GEOJSON",
                       "url": f"https://remote.example.go.th/stops-{index}.geojson"}],
        "metadata_created": "2024-01-01T00:00:00", "metadata_modified": "2024-01-02T00:00:00",
    }
    data.update(overrides)
    return data


def _publish(state: FakePortal, url: str, packages: list[dict[str, Any]], *, fmt: str = "turtle",
             suffix: str = "ttl", page_size: int = 2) -> None:
    """Serve the packages as a paged DCAT catalog made by our own exporter, as another govhub would."""
    pages = [packages[index:index + page_size] for index in range(0, len(packages), page_size)] or [[]]

    def page_url(number: int) -> str:
        return f"{url}/dcat/catalog.{suffix}" if number == 1 else f"{url}/dcat/catalog-{number}.{suffix}"

    state.documents.clear()
    for number, page in enumerate(pages, start=1):
        graph = dcat.catalog_graph(page, page=number, page_size=page_size, total=len(packages),
                                   base_url="https://remote.example.go.th", page_url=page_url)
        body, media_type = dcat.serialize(graph, fmt)
        state.documents[page_url(number).removeprefix(f"{url}/dcat/")] = (body, media_type)


async def test_a_paged_dcat_catalog_is_harvested_idempotently(portal):
    state, url = portal
    suffix = secrets.token_hex(3)
    packages = [_remote_package(suffix, index) for index in range(3)]
    _publish(state, url, packages)
    source = f"{url}/dcat/catalog.ttl"
    report = await harvest.harvest(source)
    assert report.kind == "dcat"
    _counts(report, created=3)
    assert f"{url}/dcat/catalog-2.ttl" in state.requests  # followed hydra:next
    local = await _local(source)
    dataset = local[packages[0]["id"]]
    # The remote's gdc: terms give back every GDC field.
    assert dataset.name == packages[0]["name"] and dataset.title_en == "Bus stops 0"
    assert (dataset.dataset_type, dataset.update_frequency_unit, dataset.geo_coverage) == ("geospatial", "quarter", "province")
    assert dataset.data_languages == ["en", "th"] and dataset.license_id == "cc-by" and dataset.high_value is True
    assert dataset.type_fields == {"west_bound_longitude": 100.3, "east_bound_longitude": 100.9,
                                   "south_bound_latitude": 13.5, "north_bound_latitude": 14.0}
    assert dataset.maintainer_email == "data@nso.example.go.th"
    assert dataset.url == f"https://remote.example.go.th/dataset/{packages[0]['name']}"
    async with unit_of_work() as session:
        organization = await session.get(Organization, dataset.organization_id)
        shown = await service.package_show(session, service.ANONYMOUS, dataset.name)
    assert organization.name == f"remote-nso-{suffix}" and organization.title_en == "National Statistical Office"  # type: ignore[union-attr]
    assert shown["resources"][0]["url"] == "https://remote.example.go.th/stops-0.geojson"
    assert shown["resources"][0]["format"] == "GEOJSON"
    revisions = await _revision_count(source)

    _counts(await harvest.harvest(source), unchanged=3)
    assert await _revision_count(source) == revisions

    packages[2] = {**packages[2], "title": "ป้ายรถเมล์ (ปรับปรุง)", "metadata_modified": "2024-02-01T00:00:00"}
    _publish(state, url, packages)
    _counts(await harvest.harvest(source), updated=1, unchanged=2)
    assert await _revision_count(source) == revisions + 1
    assert (await _local(source))[packages[2]["id"]].title == "ป้ายรถเมล์ (ปรับปรุง)"

    _publish(state, url, packages[1:])
    _counts(await harvest.harvest(source), deleted=1, unchanged=2)
    assert (await _local(source))[packages[0]["id"]].state == DatasetState.DELETED


async def test_a_json_ld_catalog_is_recognised_by_its_content_type(portal):
    state, url = portal
    suffix = secrets.token_hex(3)
    packages = [_remote_package(suffix, index) for index in range(2)]
    packages.append(_remote_package(suffix, 9, allow_harvest=False))
    _publish(state, url, packages, fmt="json-ld", suffix="jsonld", page_size=10)
    body, media_type = state.documents["catalog.jsonld"]
    state.documents["catalog"] = (body, media_type)  # no suffix to go by
    report = await harvest.harvest(f"{url}/dcat/catalog")
    assert report.kind == "dcat"
    _counts(report, created=2, skipped=1)


async def test_a_hand_written_dcat_catalog_without_gdc_terms_gets_defaults(portal):
    state, url = portal
    suffix = secrets.token_hex(3)
    turtle = f"""
    @prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
    @prefix foaf: <http://xmlns.com/foaf/0.1/> .
    <https://city.example/catalog> a dcat:Catalog ; dcat:dataset <https://city.example/ds/1>, <https://city.example/ds/2> .
    <https://city.example/ds/1> a dcat:Dataset ; dct:identifier "city-{suffix}-1" ;
        dct:title "งบประมาณเทศบาล"@th, "Municipal budget"@en ;
        dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/ANNUAL> ;
        dct:license <https://creativecommons.org/licenses/by/4.0/> ;
        dct:publisher [ foaf:name "City of Example"@en ] ;
        dcat:keyword "งบประมาณ" ;
        dcat:distribution [ dcat:downloadURL <https://city.example/budget.csv> ;
                            dct:format <http://publications.europa.eu/resource/authority/file-type/CSV> ] .
    <https://city.example/ds/2> a dcat:Dataset ; dct:title "No identifier, so the URI is the id"@en .
    """.encode()
    state.documents["city.ttl"] = (turtle, "text/turtle")
    source = f"{url}/dcat/city.ttl"
    report = await harvest.harvest(source)
    _counts(report, created=2)
    local = await _local(source)
    budget = local[f"city-{suffix}-1"]
    assert budget.title == "งบประมาณเทศบาล" and budget.title_en == "Municipal budget"
    assert (budget.update_frequency_unit, budget.license_id, budget.dataset_type, budget.objectives) == (
        "year", "cc-by", "other", ["other"])
    assert (budget.data_category, budget.data_classification, budget.geo_coverage) == ("public", "open", "unknown")
    assert "https://city.example/ds/2" in local
    _counts(await harvest.harvest(source), unchanged=2)


# ---------------------------------------------------------------- the command


async def _cli(*args: str) -> Any:
    """`govhub opendata harvest ...` in a thread: the command runs its own event loop."""
    from govhub.cli import app

    runner = CliRunner(env={"COLUMNS": "200"})
    return await asyncio.to_thread(runner.invoke, app, ["opendata", "harvest", *args])


async def test_the_command_prints_a_summary_and_exits_0_1_or_2(portal):
    state, url = portal
    suffix = secrets.token_hex(3)
    _fill(state, suffix, count=2)
    dry = await _cli(url, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and await _local(url) == {}
    done = await _cli(url)
    assert done.exit_code == 0, done.output
    assert re.search(r"created\s*│\s*2\s*│", done.output) and re.search(r"failed\s*│\s*0\s*│", done.output)
    assert len(await _local(url)) == 2
    state.put({**gdc_record(f"broken-{suffix}", f"broken-{suffix}", _org(suffix)), "tags": "not a list"})
    failed = await _cli(url, "--since", "2000-01-01")
    assert failed.exit_code == 1, failed.output
    assert "Records that failed" in failed.output and "tags is not a list" in failed.output
    unreachable = await _cli(f"http://127.0.0.1:{_closed_port()}")
    assert unreachable.exit_code == 2 and "Could not read" in unreachable.output
    assert (await _cli(url, "--since", "last tuesday")).exit_code == 2
