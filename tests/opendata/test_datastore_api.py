"""The datastore through the platform: a CSV uploaded with the CKAN API is loaded in the
background, queried with datastore_search / datastore_info, and exported with formula-like
cells neutralised; private datasets' tables stay private."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets

import pytest

from tests.opendata.conftest import make_catalog, make_publisher, package

CSV = (
    "route_no,stop_name,passengers,note\n"
    "8,อนุสาวรีย์ชัยสมรภูมิ,1200,ปกติ\n"
    '29,หัวลำโพง,800,"=HYPERLINK(""http://evil.example"",""คลิก"")"\n'
    "8,สะพานพุทธ,-15,+SUM(A1:A2)\n"
    "77,หมอชิต\n"
).encode()


async def _wait_active(client, resource_id: str, headers: dict) -> dict:
    for _ in range(100):
        shown = (await client.get("/api/3/action/resource_show", params={"id": resource_id},
                                  headers=headers)).json()["result"]
        if shown["datastore_active"]:
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError("the datastore load did not finish")


@pytest.fixture
async def loaded(client) -> dict:
    """A public dataset with the CSV above loaded, and a private one with the same file."""
    catalog = await make_catalog()
    publisher = await make_publisher(catalog.transport.agency_id)
    headers = {"Authorization": publisher.token, "Accept-Language": "en"}
    ids = {}
    for key, extra in (("public", {}), ("private", {"private": True})):
        name = f"ridership-{key}-{secrets.token_hex(3)}"
        created = await client.post("/api/3/action/package_create", headers=headers,
                                    json=package(catalog.transport, name, **extra))
        assert created.status_code == 200, created.text
        uploaded = await client.post("/api/3/action/resource_create", headers=headers,
                                     data={"package_id": created.json()["result"]["id"], "name": "ridership"},
                                     files={"upload": ("ridership.csv", CSV)})
        assert uploaded.status_code == 200, uploaded.text
        ids[key] = uploaded.json()["result"]["id"]
        await _wait_active(client, ids[key], headers)
    return {"ids": ids, "headers": headers}


async def test_uploaded_csv_is_searchable_through_the_ckan_api(client, loaded):
    resource_id = loaded["ids"]["public"]
    info = (await client.get("/api/3/action/datastore_info", params={"id": resource_id})).json()["result"]
    assert [field["id"] for field in info["fields"]][:2] == ["route_no", "stop_name"]
    found = await client.post("/api/3/action/datastore_search", json={
        "resource_id": resource_id, "filters": {"route_no": 8}, "sort": "stop_name asc"})
    body = found.json()["result"]
    assert found.status_code == 200 and body["total"] == 2
    assert [record["stop_name"] for record in body["records"]] == ["สะพานพุทธ", "อนุสาวรีย์ชัยสมรภูมิ"]
    by_get = await client.get("/api/3/action/datastore_search",
                              params={"resource_id": resource_id, "q": "หัวลำโพง", "limit": "5"})
    assert by_get.json()["result"]["total"] == 1
    too_many = await client.get("/api/3/action/datastore_search",
                                params={"resource_id": resource_id, "limit": "32001"})
    assert too_many.status_code == 409
    unknown = await client.post("/api/3/action/datastore_search",
                                json={"resource_id": resource_id, "sort": "password; DROP TABLE x"})
    assert unknown.status_code == 409


async def test_bad_rows_are_reported_not_fatal(client, loaded):
    from govhub.opendata import datastore

    status = await datastore.load_status(loaded["ids"]["public"])
    assert status is not None and status["status"] == "active"
    # The หมอชิต row has two cells instead of four: it is skipped and reported with its line.
    assert status["row_count"] == 3 and status["bad_row_count"] == 1


async def test_exports_neutralise_formulas_and_keep_numbers(client, loaded):
    dump = await client.get(f"/datastore/dump/{loaded['ids']['public']}")
    assert dump.status_code == 200 and dump.headers["content-disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(dump.text)))
    notes = {row["stop_name"]: row["note"] for row in rows}
    assert notes["หัวลำโพง"].startswith("'=HYPERLINK")
    assert notes["สะพานพุทธ"] == "'+SUM(A1:A2)"
    assert {row["stop_name"]: row["passengers"] for row in rows}["สะพานพุทธ"] == "-15"


async def test_private_tables_stay_private(client, loaded):
    private_id = loaded["ids"]["private"]
    anonymous = await client.post("/api/3/action/datastore_search", json={"resource_id": private_id})
    assert anonymous.status_code == 404
    assert (await client.get(f"/datastore/dump/{private_id}")).status_code == 404
    member = await client.post("/api/3/action/datastore_search", json={"resource_id": private_id},
                               headers=loaded["headers"])
    assert member.status_code == 200 and member.json()["result"]["total"] == 3
    sql = await client.post("/api/3/action/datastore_search_sql", json={"sql": "SELECT 1"})
    assert sql.status_code in (400, 403, 409) and sql.json()["success"] is False  # off by default
