"""Resources: uploads typed by their content, and bad input that must change nothing
(oversized files, zip bombs as shapefiles, unsafe zips, disguised files, XML entities,
invalid metadata, another organization's datasets)."""

from __future__ import annotations

import io
import json
import secrets
import struct
import zipfile
from typing import Any

import pytest

from govhub.config import get_settings
from govhub.opendata import schemas
from govhub.opendata.schemas import DatasetInvalid
from tests.opendata.conftest import make_catalog, make_publisher, package


def shapefile_zip(*, stem: str = "roads", extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal zipped shapefile: .shp with the 9994 file code, .shx and .dbf."""
    header = struct.pack(">i", 9994) + b"\x00" * 20 + struct.pack(">i", 50) + struct.pack("<ii", 1000, 3) + b"\x00" * 64
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{stem}.shp", header)
        archive.writestr(f"{stem}.shx", header)
        archive.writestr(f"{stem}.dbf", b"\x03" + b"\x00" * 31 + b"\r")
        archive.writestr(f"{stem}.prj", 'GEOGCS["WGS 84"]')
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
async def publisher_dataset(client) -> dict[str, Any]:
    """A dataset of a fresh organization and its publisher's token header."""
    catalog = await make_catalog()
    publisher = await make_publisher(catalog.transport.agency_id)
    headers = {"Authorization": publisher.token, "Accept-Language": "en"}
    name = f"roads-{secrets.token_hex(3)}"
    response = await client.post("/api/3/action/package_create", json=package(catalog.transport, name), headers=headers)
    assert response.status_code == 200, response.text
    outsider = await make_publisher(catalog.finance.agency_id)
    return {"name": name, "id": response.json()["result"]["id"], "headers": headers,
            "outsider": {"Authorization": outsider.token, "Accept-Language": "en"}}


async def _upload(client, arranged, filename: str, data: bytes, **fields: str):
    form = {"package_id": arranged["id"], "name": filename, **fields}
    return await client.post("/api/3/action/resource_create", data=form, files={"upload": (filename, data)},
                             headers=arranged["headers"])


async def _state(client, arranged) -> tuple[int, int]:
    shown = (await client.get("/api/3/action/package_show", params={"id": arranged["name"]})).json()["result"]
    return shown["num_resources"], shown["revision"]


@pytest.mark.parametrize(("filename", "data", "expected"), [
    ("roads.zip", shapefile_zip(), "SHP"),
    ("stops.geojson", json.dumps({"type": "FeatureCollection", "features": []}).encode(), "GEOJSON"),
    ("stops.kml", b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document/></kml>', "KML"),
    ("fares.json", json.dumps([{"route": "8", "fare": 8}]).encode(), "JSON"),
    ("fares.xml", "<fares><fare route='8'>8</fare><note>ค่าโดยสาร</note></fares>".encode(), "XML"),
    ("report.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "PDF"),
])
async def test_uploads_are_typed_by_their_content(client, publisher_dataset, filename, data, expected):
    response = await _upload(client, publisher_dataset, filename, data)
    assert response.status_code == 200, response.text
    resource = response.json()["result"]
    assert resource["format"] == expected and resource["url_type"] == "upload"
    assert resource["size"] == len(data) and resource["hash"].startswith("sha256:")
    path = resource["url"].split("://", 1)[1].split("/", 1)[1]
    download = await client.get(f"/{path}")
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("roads.shp", struct.pack(">i", 9994) + b"\x00" * (60 * 1024 * 1024))
        archive.writestr("roads.shx", b"\x00" * 100)
        archive.writestr("roads.dbf", b"\x00" * 100)
    return buffer.getvalue()


def _traversal() -> bytes:
    return shapefile_zip(extra={"../../etc/cron.d/evil": b"* * * * * root sh"})


def _nested() -> bytes:
    return shapefile_zip(extra={"more.zip": shapefile_zip()})


def _no_shapefile() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>"""


@pytest.mark.parametrize(("filename", "data", "fields", "message"), [
    ("roads.zip", _bomb(), {}, "zip bomb"),
    ("roads.zip", _traversal(), {}, "unsafe name"),
    ("roads.zip", _nested(), {}, "Archives inside"),
    ("roads.zip", _no_shapefile(), {}, "must hold a shapefile"),
    ("roads.zip", b"PK\x03\x04 this is not really a zip file at all", {}, "damaged"),
    ("data.csv", b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n", {"format": "CSV"}, "not CSV"),
    ("evil.pdf", b"%PDF-1.4\n1 0 obj<</OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\n%%EOF\n", {}, "scripts"),
    ("lol.xml", BILLION_LAUGHS, {}, "entities"),
    ("xxe.kml", EXTERNAL_ENTITY, {}, "entities"),
    ("broken.json", b'{"type": "FeatureCollection", ', {}, "not valid JSON"),
    ("broken.xml", b"<a><b></a>", {}, "not well-formed"),
    ("program.exe", b"MZ\x90\x00" + b"\x00" * 200, {}, "not accepted"),
    ("empty.csv", b"", {}, "empty"),
])
async def test_bad_files_are_refused_and_change_nothing(client, publisher_dataset, filename, data, fields, message):
    before = await _state(client, publisher_dataset)
    response = await _upload(client, publisher_dataset, filename, data, **fields)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["__type"] == "Validation Error" and message in " ".join(error["upload"])
    assert await _state(client, publisher_dataset) == before


async def test_files_over_the_limit_are_refused(client, publisher_dataset, monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "opendata_max_resource_bytes", 1024 * 1024)
    before = await _state(client, publisher_dataset)
    response = await _upload(client, publisher_dataset, "big.csv", b"a,b\n" + b"1,2\n" * 300_000)
    assert response.status_code == 409 and "1 MB or smaller" in " ".join(response.json()["error"]["upload"])
    assert await _state(client, publisher_dataset) == before


async def test_request_bodies_over_the_resource_limit_never_reach_the_parser(client, publisher_dataset):
    limit = get_settings().opendata_max_resource_bytes + 1024 * 1024
    response = await client.post("/api/3/action/resource_create", content=b"x",
                                 headers={**publisher_dataset["headers"], "content-length": str(limit + 1),
                                          "content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413


async def test_another_organizations_dataset_cannot_get_resources(client, publisher_dataset):
    before = await _state(client, publisher_dataset)
    response = await client.post("/api/3/action/resource_create", headers=publisher_dataset["outsider"], json={
        "package_id": publisher_dataset["id"], "url": "https://evil.example/x.csv", "name": "x"})
    assert response.status_code == 403 and response.json()["error"]["__type"] == "Authorization Error"
    assert await _state(client, publisher_dataset) == before
    link = await client.post("/api/3/action/resource_create", headers=publisher_dataset["headers"], json={
        "package_id": publisher_dataset["id"], "url": "https://data.example.go.th/roads.csv", "name": "roads",
        "format": "CSV"})
    resource_id = link.json()["result"]["id"]
    for action, body in (("resource_update", {"id": resource_id, "name": "hijacked"}),
                         ("resource_delete", {"id": resource_id})):
        refused = await client.post(f"/api/3/action/{action}", json=body, headers=publisher_dataset["outsider"])
        assert refused.status_code == 403
    shown = (await client.get("/api/3/action/resource_show", params={"id": resource_id})).json()["result"]
    assert shown["name"] == "roads"


async def test_links_must_be_http(client, publisher_dataset):
    for url in ("javascript:alert(1)", "file:///etc/passwd", "ftp://x/y", ""):
        response = await client.post("/api/3/action/resource_create", headers=publisher_dataset["headers"], json={
            "package_id": publisher_dataset["id"], "url": url, "name": "x"})
        assert response.status_code == 409 and "url" in response.json()["error"]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"name": "Has Spaces"}, "name"),
    ({"name": "x"}, "name"),
    ({"title": ""}, "title"),
    ({"data_type": "spreadsheet"}, "data_type"),
    ({"objective": ["to win"]}, "objective"),
    ({"update_frequency_interval": 0}, "update_frequency_interval"),
    ({"license_id": "my-own-licence"}, "license_id"),
    ({"maintainer_email": "not-an-email"}, "maintainer_email"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"created_date": "yesterday"}, "created_date"),
    ({"tags": [{"name": "<script>"}]}, "tags"),
    ({"unit_of_measure": "คน"}, "unit_of_measure"),  # a statistical field on a record dataset
    ({"data_type": "geospatial", "west_bound_longitude": 105, "east_bound_longitude": 97}, "east_bound_longitude"),
    ({"data_type": "geospatial", "north_bound_latitude": 91}, "north_bound_latitude"),
    ({"data_type": "statistical", "first_year_of_data": 2567, "last_year_of_data": 2560}, "last_year_of_data"),
    ({"data_category": "secret", "private": False}, "private"),
    ({"state": "deleted"}, "state"),
])
def test_invalid_metadata_is_reported_per_field(overrides, field):
    data = {"name": "valid-name", "title": "ชื่อ", "owner_org": "org", "data_type": "record",
            "objective": ["public_service"], "update_frequency_unit": "year", "geo_coverage": "country",
            "data_category": "public", **overrides}
    with pytest.raises(DatasetInvalid) as refused:
        parsed = schemas.parse_package(data, creating=True)
        schemas.check_governance(parsed.values)
    assert field in refused.value.errors


def test_thai_labels_of_gdc_portals_are_accepted_and_stored_as_codes():
    parsed = schemas.parse_package({
        "name": "from-gdc", "title": "ชุดข้อมูล", "owner_org": "org", "data_type": "ข้อมูลสถิติ",
        "objective": ["ยุทธศาสตร์ชาติ", "เพื่อการให้บริการประชาชน"], "update_frequency_unit": "ไตรมาส",
        "geo_coverage": "จังหวัด", "data_category": "ข้อมูลสาธารณะ", "data_classification": "เปิดเผย",
        "data_language": ["ไทย", "อังกฤษ"], "data_format": ["CSV", "ฐานข้อมูล"], "license_id": "Open Data Common",
        "created_date": "2567-10-01",
    }, creating=True)
    values = parsed.values
    assert values["dataset_type"] == "statistical" and values["objectives"] == ["national_strategy", "public_service"]
    assert values["update_frequency_unit"] == "quarter" and values["geo_coverage"] == "province"
    assert values["data_category"] == "public" and values["data_classification"] == "open"
    assert values["data_languages"] == ["th", "en"] and values["data_formats"] == ["csv", "database"]
    assert values["license_id"] == "Open-D" and values["data_created"].year == 2024  # B.E. 2567
