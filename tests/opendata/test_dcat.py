"""DCAT-AP exports and schema.org JSON-LD: every export parsed back with rdflib."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, FOAF, RDF, SKOS
from fastapi.routing import iter_route_contexts
from sqlalchemy import event

from govhub.config import get_settings
from govhub.db import get_engine, unit_of_work
from govhub.opendata import dcat, service
from govhub.opendata.dcat import ADMS, EU_ACCESS_RIGHT, EU_FILE_TYPE, EU_FREQUENCY, EU_LANGUAGE, GSP, HYDRA, SPDX, VCARD
from tests.opendata.conftest import Catalog, package

DCT = DCTERMS
BASE = get_settings().public_url
RESOURCES = [
    {"name": "เส้นทางเดินรถ", "description": "ไฟล์ CSV", "url": "https://data.example.go.th/routes.csv", "format": "csv"},
    {"name": "Routes API", "url": "https://api.example.go.th/routes", "format": "API"},
]


async def _create(catalog: Catalog, name: str, **overrides: Any) -> dict[str, Any]:
    async with unit_of_work() as session:
        actor = catalog.transport_publisher
        dataset = await service.package_create(session, actor, package(catalog.transport, name, **overrides))
        return await service.package_show(session, catalog.admin, dataset.id)


async def _statistical(catalog: Catalog, name: str) -> dict[str, Any]:
    return await _create(
        catalog, name, title="สถิติผู้โดยสารรถโดยสารประจำทาง", title_en="Bus ridership statistics",
        notes="จำนวนผู้โดยสารรายเดือน", tags=[{"name": "รถโดยสาร"}, {"name": "transport"}], license_id="cc-by",
        data_type="statistical", update_frequency_unit="month", update_frequency_interval=1,
        data_language=["th", "en"], first_year_of_data=2015, last_year_of_data=2024, unit_of_measure="คน",
        high_value_dataset=True, maintainer="ฝ่ายสถิติ", maintainer_email="stat@bmta.example.go.th",
        groups=[{"name": catalog.groups["transport"].name}], resources=RESOURCES)


def _parse(response: Any, fmt: str) -> Graph:
    graph = Graph()
    graph.parse(data=response.content, format=fmt)
    return graph


def _dataset(graph: Graph, package_id: str) -> URIRef:
    return URIRef(f"{BASE}/dataset/{package_id}")


async def test_a_dataset_exports_as_dcat_ap_in_turtle(catalog, client):
    pkg = await _statistical(catalog, f"ridership-{catalog.transport.name}")
    response = await client.get(f"/dataset/{pkg['name']}.ttl")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/turtle")
    graph = _parse(response, "turtle")
    subject = _dataset(graph, pkg["id"])
    assert (subject, RDF.type, dcat.DCAT.Dataset) in graph
    assert (subject, DCT.identifier, Literal(pkg["id"])) in graph
    assert (subject, DCT.title, Literal("สถิติผู้โดยสารรถโดยสารประจำทาง", lang="th")) in graph
    assert (subject, DCT.title, Literal("Bus ridership statistics", lang="en")) in graph
    assert (subject, DCT.description, Literal("จำนวนผู้โดยสารรายเดือน", lang="th")) in graph
    assert (subject, dcat.DCAT.keyword, Literal("รถโดยสาร", lang="th")) in graph
    assert (subject, dcat.DCAT.keyword, Literal("transport", lang="en")) in graph
    assert (subject, DCT.license, URIRef("https://creativecommons.org/licenses/by/4.0/")) in graph
    assert (subject, DCT.accrualPeriodicity, URIRef(EU_FREQUENCY + "MONTHLY")) in graph
    assert (subject, DCT.language, URIRef(EU_LANGUAGE + "THA")) in graph
    assert (subject, DCT.language, URIRef(EU_LANGUAGE + "ENG")) in graph
    assert (subject, DCT.accessRights, URIRef(EU_ACCESS_RIGHT + "PUBLIC")) in graph
    assert (subject, dcat.DCAT.landingPage, URIRef(f"{BASE}/dataset/{pkg['name']}")) in graph
    assert (subject, dcat.DCAT.theme, URIRef(f"{BASE}/group/{catalog.groups['transport'].name}")) in graph
    publisher = URIRef(f"{BASE}/organization/{catalog.transport.name}")
    assert (subject, DCT.publisher, publisher) in graph
    assert (publisher, RDF.type, FOAF.Organization) in graph
    assert (publisher, FOAF.name, Literal("องค์การขนส่งมวลชนกรุงเทพ", lang="th")) in graph
    contact = graph.value(subject, dcat.DCAT.contactPoint)
    assert graph.value(contact, VCARD.fn) == Literal("ฝ่ายสถิติ")
    assert graph.value(contact, VCARD.hasEmail) == URIRef("mailto:stat@bmta.example.go.th")
    period = graph.value(subject, DCT.temporal)
    assert graph.value(period, dcat.DCAT.startDate) == Literal("2015", datatype=dcat.XSD.gYear)
    assert graph.value(period, dcat.DCAT.endDate) == Literal("2024", datatype=dcat.XSD.gYear)
    assert graph.value(graph.value(subject, ADMS.identifier), SKOS.notation) == Literal(pkg["name"])
    assert graph.value(subject, DCT.issued).datatype == dcat.XSD.dateTime
    assert graph.value(subject, DCT.modified).toPython() >= graph.value(subject, DCT.issued).toPython()
    gdc = dcat.gdc_namespace(BASE)
    assert (subject, gdc.dataType, Literal("statistical")) in graph
    assert (subject, gdc.highValueDataset, Literal(True)) in graph
    assert (subject, gdc.unitOfMeasure, Literal("คน")) in graph
    assert (subject, gdc.objective, Literal("public_service")) in graph
    # Both resources are distributions; the CSV is a download, the API only an access point.
    distributions = {str(graph.value(node, dcat.DCAT.accessURL)): node for node in graph.objects(subject, dcat.DCAT.distribution)}
    assert set(distributions) == {RESOURCES[0]["url"], RESOURCES[1]["url"]}
    csv = distributions[RESOURCES[0]["url"]]
    assert (csv, RDF.type, dcat.DCAT.Distribution) in graph
    assert (csv, dcat.DCAT.downloadURL, URIRef(RESOURCES[0]["url"])) in graph
    assert (csv, DCT.format, URIRef(EU_FILE_TYPE + "CSV")) in graph
    assert (csv, dcat.DCAT.mediaType, URIRef("https://www.iana.org/assignments/media-types/text/csv")) in graph
    assert (csv, DCT.title, Literal("เส้นทางเดินรถ", lang="th")) in graph
    assert (csv, DCT.license, URIRef("https://creativecommons.org/licenses/by/4.0/")) in graph
    api = distributions[RESOURCES[1]["url"]]
    assert graph.value(api, dcat.DCAT.downloadURL) is None
    assert graph.value(api, DCT.format) == Literal("API")


async def test_the_three_formats_carry_the_same_graph(catalog, client):
    pkg = await _statistical(catalog, f"same-graph-{catalog.transport.name}")
    graphs = {}
    for suffix, fmt, media in (("ttl", "turtle", "text/turtle"), ("jsonld", "json-ld", "application/ld+json"),
                               ("rdf", "xml", "application/rdf+xml")):
        response = await client.get(f"/dataset/{pkg['name']}.{suffix}")
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] == media
        assert "rel=\"alternate\"" in response.headers["link"]
        graphs[fmt] = _parse(response, fmt)
    assert len(graphs["turtle"]) > 60
    assert isomorphic(graphs["turtle"], graphs["json-ld"])
    assert isomorphic(graphs["turtle"], graphs["xml"])
    # JSON-LD is compacted with readable prefixes and keeps Thai as Thai.
    body = (await client.get(f"/dataset/{pkg['name']}.jsonld")).json()
    assert body["@context"]["dcat"] == str(dcat.DCAT) and "@graph" in body
    assert "สถิติผู้โดยสาร" in json.dumps(body, ensure_ascii=False)


async def test_a_dataset_can_also_be_fetched_by_id(catalog, client):
    pkg = await _create(catalog, f"by-id-{catalog.transport.name}")
    response = await client.get(f"/dataset/{pkg['id']}.ttl")
    assert response.status_code == 200
    assert (_dataset(Graph(), pkg["id"]), RDF.type, dcat.DCAT.Dataset) in _parse(response, "turtle")


async def test_geospatial_datasets_carry_their_bounding_box(catalog, client):
    pkg = await _create(catalog, f"bus-stops-{catalog.transport.name}", data_type="geospatial",
                        geo_coverage="province", west_bound_longitude=100.3, east_bound_longitude=100.95,
                        south_bound_latitude=13.5, north_bound_latitude=14.0, spatial_reference_system="EPSG:4326")
    graph = _parse(await client.get(f"/dataset/{pkg['name']}.ttl"), "turtle")
    location = graph.value(_dataset(graph, pkg["id"]), DCT.spatial)
    assert (location, RDF.type, DCT.Location) in graph
    assert (location, SKOS.prefLabel, Literal("จังหวัด", lang="th")) in graph
    bbox = graph.value(location, dcat.DCAT.bbox)
    assert bbox.datatype == GSP.wktLiteral
    assert str(bbox) == "POLYGON((100.3 13.5, 100.3 14, 100.95 14, 100.95 13.5, 100.3 13.5))"
    assert graph.value(location, dcat.LOCN.geometry) == bbox
    assert (_dataset(graph, pkg["id"]), dcat.gdc_namespace(BASE).westBoundLongitude, None) in graph


async def test_an_uploaded_file_carries_its_size_and_checksum():
    pkg = {**_sample_package(), "resources": [{
        "id": "r1", "name": "ไฟล์", "format": "CSV", "url": "http://x/dataset/1/resource/r1/download/a.csv",
        "url_type": "upload", "size": 2048, "hash": "sha256:" + "ab" * 32, "mimetype": "text/csv"}]}
    graph = dcat.dataset_graph(pkg, "http://x")
    node = URIRef("http://x/dataset/d-1/resource/r1")
    assert graph.value(node, dcat.DCAT.byteSize) == Literal(2048, datatype=dcat.XSD.nonNegativeInteger)
    checksum = graph.value(node, SPDX.checksum)
    assert graph.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
    assert graph.value(checksum, SPDX.checksumValue) == Literal("ab" * 32, datatype=dcat.XSD.hexBinary)
    assert graph.value(node, dcat.DCAT.downloadURL) == URIRef("http://x/dataset/1/resource/r1/download/a.csv")


async def test_private_draft_deleted_and_unknown_datasets_are_404(catalog, client):
    private = await _create(catalog, f"private-{catalog.transport.name}", private=True)
    draft = await _create(catalog, f"draft-{catalog.transport.name}", state="draft")
    gone = await _create(catalog, f"gone-{catalog.transport.name}")
    async with unit_of_work() as session:
        await service.package_delete(session, catalog.transport_publisher, gone["id"])
    for name in (private["name"], private["id"], draft["name"], gone["name"], "no-such-dataset"):
        for suffix in ("jsonld", "ttl", "rdf"):
            response = await client.get(f"/dataset/{name}.{suffix}", headers={"Accept": "application/json"})
            assert response.status_code == 404, (name, suffix)
            assert response.json()["error"]["code"] == "dataset_not_found"


async def test_the_catalog_pages_with_hydra_links_and_leaves_out_private_datasets(catalog, client):
    started = datetime.now(UTC).isoformat()
    public = [await _create(catalog, f"page-{index}-{catalog.transport.name}") for index in range(3)]
    private = await _create(catalog, f"private-cat-{catalog.transport.name}", private=True)
    draft = await _create(catalog, f"draft-cat-{catalog.transport.name}", state="draft")
    query = {"page_size": "2", "modified_since": started}
    first = await client.get("/catalog.ttl", params=query)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/turtle")
    graph = _parse(first, "turtle")
    catalog_uri = URIRef(f"{BASE}/catalog")
    assert (catalog_uri, RDF.type, dcat.DCAT.Catalog) in graph
    assert (catalog_uri, DCT.title, Literal("แคตตาล็อกข้อมูลเปิดภาครัฐ", lang="th")) in graph
    assert (catalog_uri, FOAF.homepage, URIRef(f"{BASE}/")) in graph
    assert graph.value(catalog_uri, DCT.publisher) is not None
    view = graph.value(catalog_uri, HYDRA.view)
    assert (view, RDF.type, HYDRA.PartialCollectionView) in graph
    assert graph.value(view, HYDRA.totalItems).toPython() == 3
    assert graph.value(view, HYDRA.itemsPerPage).toPython() == 2
    assert str(graph.value(view, HYDRA.first)).endswith("/catalog.ttl?page=1&page_size=2&modified_since=" +
                                                        started.replace(":", "%3A").replace("+", "%2B"))
    next_page = str(graph.value(view, HYDRA.next))
    assert "page=2" in next_page and str(graph.value(view, HYDRA.last)) == next_page
    assert graph.value(view, HYDRA.previous) is None
    # Newest change first: the last two created are on the first page.
    on_first = {str(node) for node in graph.objects(catalog_uri, dcat.DCAT.dataset)}
    assert on_first == {f"{BASE}/dataset/{pkg['id']}" for pkg in public[1:]}
    second = _parse(await client.get("/catalog.ttl", params={**query, "page": "2"}), "turtle")
    view = second.value(catalog_uri, HYDRA.view)
    assert second.value(view, HYDRA.next) is None and "page=1" in str(second.value(view, HYDRA.previous))
    assert {str(node) for node in second.objects(catalog_uri, dcat.DCAT.dataset)} == {f"{BASE}/dataset/{public[0]['id']}"}
    whole = Graph()
    for fmt, suffix in (("json-ld", "jsonld"), ("xml", "rdf"), ("turtle", "ttl")):
        response = await client.get(f"/catalog.{suffix}", params={"modified_since": started})
        assert response.headers["content-type"].split(";")[0] == dcat.MEDIA_TYPES[fmt]
        whole = _parse(response, fmt)
        assert len(list(whole.subjects(RDF.type, dcat.DCAT.Dataset))) == 3
    for hidden in (private, draft):
        assert (URIRef(f"{BASE}/dataset/{hidden['id']}"), None, None) not in whole
        assert hidden["name"] not in (await client.get("/catalog.ttl", params={"modified_since": started})).text


async def test_bad_catalog_queries_are_400(client):
    for params in ({"page": "0"}, {"page": "-1"}, {"page": "two"}, {"page": "999999"}, {"page_size": "0"},
                   {"page_size": "5000"}, {"modified_since": "yesterday"}):
        response = await client.get("/catalog.jsonld", params=params, headers={"Accept": "application/json"})
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "bad_request"
    empty = await client.get("/catalog.ttl", params={"modified_since": "2999-01-01"})
    assert empty.status_code == 200
    graph = _parse(empty, "turtle")
    assert graph.value(graph.value(URIRef(f"{BASE}/catalog"), HYDRA.view), HYDRA.totalItems).toPython() == 0


async def test_a_catalog_page_loads_its_datasets_in_a_fixed_number_of_queries(catalog, client):
    started = datetime.now(UTC).isoformat()
    for index in range(12):
        await _create(catalog, f"bulk-{index}-{catalog.transport.name}", resources=RESOURCES,
                      groups=[{"name": catalog.groups["transport"].name}], tags=[{"name": f"คำ{index}"}])
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = await client.get("/catalog.ttl", params={"modified_since": started})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    assert len(list(_parse(response, "turtle").subjects(RDF.type, dcat.DCAT.Distribution))) == 24
    # count, page, resources, tags, group links, groups: not one query per dataset.
    assert len(statements) <= 8, statements


def test_the_dataset_exports_are_routed_before_any_dataset_page(app):
    paths = [context.path for context in iter_route_contexts(app.routes)]
    for suffix in ("jsonld", "ttl", "rdf"):
        mine = paths.index(f"/dataset/{{name}}.{suffix}")
        for index, path in enumerate(paths):
            if re.fullmatch(r"/dataset/\{[a-z_]+(:[a-z]+)?\}", path):
                assert mine < index, f"{path} would answer /dataset/x.{suffix}"


async def test_the_gdc_namespace_describes_its_terms(client):
    response = await client.get("/ns/gdc")
    assert response.status_code == 200
    graph = _parse(response, "turtle")
    gdc = dcat.gdc_namespace(BASE)
    assert (gdc.dataCategory, dcat.RDFS.label, Literal("หมวดหมู่ข้อมูลตามธรรมาภิบาลข้อมูล", lang="th")) in graph
    assert (gdc.highValueDataset, dcat.RDFS.range, dcat.XSD.boolean) in graph


# ---------------------------------------------------------------- mapping functions


def _sample_package(**overrides: Any) -> dict[str, Any]:
    data = {
        "id": "d-1", "name": "bus-routes", "title": "เส้นทางรถโดยสาร", "title_en": "Bus routes",
        "notes": "คำอธิบาย", "tags": [{"name": "รถเมล์"}], "organization": {"name": "bmta", "title": "ขสมก."},
        "update_frequency_unit": "year", "update_frequency_interval": 1, "geo_coverage": "country",
        "data_language": ["th"], "license_id": "Open-D", "data_category": "public", "data_classification": "open",
        "data_type": "record", "objective": ["public_service"], "groups": [], "resources": [],
        "metadata_created": "2024-01-02T03:04:05.000001", "metadata_modified": "2024-02-03T04:05:06.000001",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(("unit", "interval", "code"), [
    ("year", 1, "ANNUAL"), ("year", None, "ANNUAL"), ("year", 2, "BIENNIAL"), ("half_year", 1, "ANNUAL_2"),
    ("quarter", 1, "QUARTERLY"), ("month", 1, "MONTHLY"), ("month", 3, "QUARTERLY"), ("week", 2, "BIWEEKLY"),
    ("day", 1, "DAILY"), ("business_day", 1, "WEEKLY_5"), ("hour", 1, "HOURLY"), ("minute", 15, "15MIN"),
    ("realtime", None, "UPDATE_CONT"), ("never", None, "NEVER"), ("other", None, "OTHER"), ("year", 7, "OTHER"),
])
def test_update_frequencies_map_to_eu_frequencies(unit, interval, code):
    assert dcat.frequency_uri(unit, interval) == EU_FREQUENCY + code


def test_access_rights_follow_the_data_governance_category():
    rights = {}
    for category, classification in (("public", "open"), ("internal", "internal"), ("personal", "internal"),
                                     ("security", "confidential"), ("public", "secret")):
        graph = dcat.dataset_graph(_sample_package(data_category=category, data_classification=classification), "http://x")
        rights[(category, classification)] = str(graph.value(URIRef("http://x/dataset/d-1"), DCT.accessRights))
    assert rights == {
        ("public", "open"): EU_ACCESS_RIGHT + "PUBLIC", ("internal", "internal"): EU_ACCESS_RIGHT + "RESTRICTED",
        ("personal", "internal"): EU_ACCESS_RIGHT + "RESTRICTED", ("security", "confidential"): EU_ACCESS_RIGHT + "NON_PUBLIC",
        ("public", "secret"): EU_ACCESS_RIGHT + "NON_PUBLIC",
    }


def test_a_licence_without_a_page_gets_one_in_our_namespace_and_maps_back():
    graph = dcat.dataset_graph(_sample_package(license_id="notspecified"), "http://x")
    licence = graph.value(URIRef("http://x/dataset/d-1"), DCT.license)
    assert str(licence) == "http://x/ns/gdc/licence/notspecified"
    assert dcat.licence_id_of_url(str(licence)) == "notspecified"
    assert dcat.licence_id_of_url("http://creativecommons.org/licenses/by/4.0") == "cc-by"
    assert dcat.licence_id_of_url("https://example.org/some-licence") is None


@pytest.mark.parametrize("fmt", ["turtle", "json-ld", "xml"])
def test_an_export_reads_back_into_the_same_package(fmt):
    original = _sample_package(
        data_type="statistical", update_frequency_unit="month", update_frequency_interval=3, data_language=["th", "en"],
        license_id="cc-by-sa", first_year_of_data=2010, last_year_of_data=2020, high_value_dataset=True,
        reference_data=False, allow_harvest=True, data_format=["csv", "xls"], created_date="2010-01-01",
        maintainer="ฝ่ายข้อมูล", maintainer_email="data@example.go.th", url="https://example.go.th/source",
        groups=[{"name": "transport", "title": "คมนาคม"}], tags=[{"name": "รถเมล์"}, {"name": "bus"}],
        resources=[{"id": "r1", "name": "ไฟล์", "description": "ข้อมูล", "format": "CSV", "url": "https://x.example/a.csv"},
                   {"id": "r2", "name": "แผนที่", "format": "GEOJSON", "url": "https://x.example/a.geojson"}])
    data, _ = dcat.serialize(dcat.dataset_graph(original, "https://remote.example"), fmt)
    [back] = dcat.packages_from_dcat(dcat.parse(data, fmt))
    for key in ("id", "name", "title", "title_en", "notes", "data_type", "update_frequency_unit",
                "update_frequency_interval", "license_id", "first_year_of_data", "last_year_of_data",
                "high_value_dataset", "reference_data", "allow_harvest", "created_date", "maintainer",
                "maintainer_email", "url", "geo_coverage", "data_category", "data_classification", "objective"):
        assert back[key] == original[key], key
    assert sorted(back["data_language"]) == ["en", "th"] and sorted(back["data_format"]) == ["csv", "xls"]
    assert sorted(tag["name"] for tag in back["tags"]) == ["bus", "รถเมล์"]
    assert back["groups"] == [{"name": "transport"}]
    assert back["organization"] == {"name": "bmta", "title": "ขสมก.", "title_en": ""}
    assert back["metadata_modified"] == "2024-02-03T04:05:06"
    assert sorted((r["url"], r["format"], r["name"]) for r in back["resources"]) == [
        ("https://x.example/a.csv", "CSV", "ไฟล์"), ("https://x.example/a.geojson", "GEOJSON", "แผนที่")]


def test_plain_dcat_without_gdc_terms_maps_through_the_eu_vocabularies():
    turtle = """
    @prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
    @prefix foaf: <http://xmlns.com/foaf/0.1/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
    <https://portal.example/ds/air-quality> a dcat:Dataset ;
        dct:title "Air quality"@en, "คุณภาพอากาศ"@th ; dct:identifier "air-quality" ;
        dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/DAILY> ;
        dct:language <http://publications.europa.eu/resource/authority/language/THA> ;
        dct:license <https://creativecommons.org/publicdomain/zero/1.0/> ;
        dct:accessRights <http://publications.europa.eu/resource/authority/access-right/PUBLIC> ;
        dct:spatial [ dcat:bbox "POLYGON((100 13, 100 14, 101 14, 101 13, 100 13))"^^<http://www.opengis.net/ont/geosparql#wktLiteral> ] ;
        dct:publisher [ a foaf:Organization ; foaf:name "Pollution Control Department"@en ] ;
        dcat:keyword "air", "ฝุ่น" ;
        dcat:distribution [ dcat:accessURL <https://portal.example/air.csv> ;
                            dcat:mediaType <https://www.iana.org/assignments/media-types/text/csv> ] .
    """.encode()
    [pkg] = dcat.packages_from_dcat(dcat.parse(turtle, "turtle"))
    assert pkg["title"] == "คุณภาพอากาศ" and pkg["title_en"] == "Air quality" and pkg["name"] == "air-quality"
    assert (pkg["update_frequency_unit"], pkg["update_frequency_interval"]) == ("day", 1)
    assert pkg["data_language"] == ["th"] and pkg["license_id"] == "cc-zero"
    assert (pkg["data_category"], pkg["data_classification"]) == ("public", "open")
    assert pkg["data_type"] == "geospatial" and pkg["geo_coverage"] == "coordinates"
    assert (pkg["west_bound_longitude"], pkg["south_bound_latitude"], pkg["east_bound_longitude"],
            pkg["north_bound_latitude"]) == (100, 13, 101, 14)
    assert pkg["organization"]["name"] == "pollution-control-department"
    assert pkg["resources"] == [{"name": "", "description": "", "url": "https://portal.example/air.csv",
                                 "format": "CSV", "mimetype": "text/csv"}]


def test_turtle_export_escapes_what_turtle_requires():
    awkward = 'a "quoted" \\ back\nslash\ttab \x01 ไทย """ \'\'\' end\\'
    odd_url = 'https://x.example/a"b{c}|d^e`f\\g<h>'
    graph = dcat.dataset_graph(_sample_package(title=awkward, notes="x'''y\r\n", url=odd_url), "http://x")
    data, media_type = dcat.serialize(graph, "turtle")
    assert media_type == "text/turtle"
    back = Graph().parse(data=data, format="turtle")
    assert len(back) == len(graph)
    named = {(s, p, o) for s, p, o in graph if not isinstance(s, BNode) and not isinstance(o, BNode)}
    assert named == {(s, p, o) for s, p, o in back if not isinstance(s, BNode) and not isinstance(o, BNode)}
    subject = URIRef("http://x/dataset/d-1")
    assert Literal(awkward, lang="th") in set(back.objects(subject, DCT.title))
    assert (subject, FOAF.page, URIRef("https://x.example/a%22b%7Bc%7D%7Cd%5Ee%60f%5Cg%3Ch%3E")) in back
    assert b"@prefix dcat: <http://www.w3.org/ns/dcat#> ." in data


def test_json_ld_with_a_remote_context_and_xml_entities_are_refused():
    with pytest.raises(dcat.UnsafeRdf):
        dcat.parse(json.dumps({"@context": "https://schema.org", "@type": "Dataset"}).encode(), "json-ld")
    with pytest.raises(dcat.UnsafeRdf):
        dcat.parse(json.dumps({"@context": [{"x": "http://x/"}, "http://evil.example/ctx"]}).encode(), "json-ld")
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    with pytest.raises(dcat.UnsafeRdf):
        dcat.parse(bomb, "xml")


# ---------------------------------------------------------------- schema.org


def test_schema_org_dataset_has_the_fields_search_engines_read():
    pkg = _sample_package(
        first_year_of_data=2015, last_year_of_data=2024, data_language=["th", "en"], west_bound_longitude=100.3,
        east_bound_longitude=100.9, south_bound_latitude=13.5, north_bound_latitude=14.0,
        resources=[{"id": "r1", "name": "ไฟล์", "format": "CSV", "url": "https://x.example/a.csv", "size": 10},
                   {"id": "r2", "name": "no link", "format": "", "url": ""}])
    data = dcat.schema_org_jsonld(pkg, "https://portal.example")
    assert data["@context"] == "https://schema.org" and data["@type"] == "Dataset"
    assert data["name"] == "เส้นทางรถโดยสาร" and data["alternateName"] == "Bus routes"
    assert data["description"] == "คำอธิบาย" and data["url"] == "https://portal.example/dataset/bus-routes"
    assert data["identifier"] == ["d-1", "bus-routes"] and data["keywords"] == ["รถเมล์"]
    assert data["license"] == "https://data.go.th/pages/open-data-common"
    assert data["publisher"] == {"@type": "GovernmentOrganization", "name": "ขสมก.",
                                 "url": "https://portal.example/organization/bmta"}
    assert data["creator"]["name"] == "ขสมก."
    assert data["temporalCoverage"] == "2015/2024"
    assert data["spatialCoverage"] == {"@type": "Place", "name": "ประเทศไทย",
                                       "geo": {"@type": "GeoShape", "box": "13.5 100.3 14 100.9"}}
    assert data["isAccessibleForFree"] is True and data["inLanguage"] == ["th", "en"]
    assert data["dateModified"] == "2024-02-03T04:05:06+00:00"
    assert data["distribution"] == [{"@type": "DataDownload", "contentUrl": "https://x.example/a.csv",
                                     "encodingFormat": "text/csv", "name": "ไฟล์", "contentSize": "10 B"}]


def test_schema_org_script_cannot_be_closed_by_the_data():
    evil = "</script><script>alert(1)</script><!-- \u2028"
    pkg = _sample_package(title=evil, notes="a & b", tags=[{"name": "</SCRIPT>"}])
    script = str(dcat.schema_org_script(pkg, "https://portal.example"))
    assert script.startswith('<script type="application/ld+json">') and script.endswith("</script>")
    inner = script.removeprefix('<script type="application/ld+json">').removesuffix("</script>")
    assert "<" not in inner and ">" not in inner and "&" not in inner and "\u2028" not in inner
    assert json.loads(inner) == dcat.schema_org_jsonld(pkg, "https://portal.example")
    assert json.loads(inner)["name"] == evil
    # Markup: a template inserts it as is, without escaping it a second time.
    assert dcat.schema_org_script(pkg, "https://portal.example").__html__() == script


async def test_schema_org_of_a_stored_dataset(catalog):
    pkg = await _statistical(catalog, f"schema-{catalog.transport.name}")
    data = dcat.schema_org_jsonld(pkg, BASE)
    assert data["keywords"] == ["transport", "รถโดยสาร"]
    assert data["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert data["creator"]["contactPoint"]["email"] == "stat@bmta.example.go.th"
    assert [entry["contentUrl"] for entry in data["distribution"]] == [RESOURCES[0]["url"], RESOURCES[1]["url"]]
