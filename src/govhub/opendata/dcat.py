"""DCAT-AP and schema.org descriptions of the catalog, and the way back for harvesting.

The graphs are built from package dicts (`service.package_dict`), so every export shows
exactly what package_show shows. Coded GDC fields map to EU vocabularies where one exists
(frequency, language, access right, file type); the GDC fields DCAT has no term for are
kept under this portal's own `gdc:` namespace (`<public_url>/ns/gdc#`), so a govhub
harvesting another govhub gets every field back. `packages_from_dcat` reads any DCAT-AP
catalog (ours or another portal's) into package dicts. The mapping is in docs/opendata-dcat.md.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from hashlib import sha256
from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from govhub.opendata import vocab
from govhub.opendata.schemas import ALL_TYPE_FIELDS, GEOSPATIAL_FIELDS, NAME_PATTERN, STATISTICAL_FIELDS

DCT = DCTERMS
DCATAP = Namespace("http://data.europa.eu/r5r/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
SCHEMA = Namespace("http://schema.org/")

EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
EU_ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
EU_COUNTRY = "http://publications.europa.eu/resource/authority/country/"
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
# The ending of every govhub portal's GDC namespace: terms are recognised by it on import,
# whichever portal published them.
GDC_PATH = "/ns/gdc#"

MEDIA_TYPES = {
    "json-ld": "application/ld+json",
    "turtle": "text/turtle",
    "xml": "application/rdf+xml",
}
SUFFIXES = {"jsonld": "json-ld", "ttl": "turtle", "rdf": "xml"}

# JSON-LD is written compacted with these prefixes, so it reads like the Turtle.
JSONLD_PREFIXES = {
    "dcat": str(DCAT), "dct": str(DCT), "dcatap": str(DCATAP), "foaf": str(FOAF), "vcard": str(VCARD),
    "adms": str(ADMS), "spdx": str(SPDX), "locn": str(LOCN), "gsp": str(GSP), "hydra": str(HYDRA),
    "skos": str(SKOS), "xsd": str(XSD), "rdfs": str(RDFS), "owl": str(OWL),
}


def gdc_namespace(base_url: str) -> Namespace:
    """This portal's namespace for the GDC fields DCAT has no term for."""
    return Namespace(f"{base_url}{GDC_PATH}")


# ---------------------------------------------------------------- vocabularies

# GDC update frequency (unit, interval) -> EU frequency. Interval None means "every one unit".
_FREQUENCY_OUT: dict[tuple[str, int | None], str] = {
    ("year", 1): "ANNUAL", ("year", 2): "BIENNIAL", ("year", 3): "TRIENNIAL", ("year", 4): "QUADRENNIAL",
    ("year", 5): "QUINQUENNIAL", ("year", 10): "DECENNIAL",
    ("half_year", 1): "ANNUAL_2", ("quarter", 1): "QUARTERLY",
    ("month", 1): "MONTHLY", ("month", 2): "BIMONTHLY", ("month", 3): "QUARTERLY", ("month", 6): "ANNUAL_2",
    ("month", 12): "ANNUAL",
    ("week", 1): "WEEKLY", ("week", 2): "BIWEEKLY",
    ("day", 1): "DAILY", ("day", 7): "WEEKLY",
    ("business_day", 1): "WEEKLY_5",
    ("hour", 1): "HOURLY", ("hour", 2): "BIHOURLY", ("hour", 3): "TRIHOURLY", ("hour", 12): "12HRS",
    ("hour", 24): "DAILY",
    ("minute", 1): "1MIN", ("minute", 5): "5MIN", ("minute", 10): "10MIN", ("minute", 15): "15MIN",
    ("minute", 30): "30MIN", ("minute", 60): "HOURLY",
    ("realtime", 1): "UPDATE_CONT", ("never", 1): "NEVER", ("other", 1): "OTHER",
}
# EU frequency -> GDC (unit, interval): the first entry above for each, and a few more.
_FREQUENCY_IN: dict[str, tuple[str, int | None]] = {
    "ANNUAL_3": ("month", 4), "MONTHLY_2": ("week", 2), "DAILY_2": ("hour", 12), "WEEKLY_2": ("other", None),
    "CONT": ("realtime", None), "IRREG": ("other", None), "AS_NEEDED": ("other", None),
    "UNKNOWN": ("other", None), "NOT_PLANNED": ("never", None), "OP_DATPRO": ("other", None),
}
for (_unit, _interval), _code in _FREQUENCY_OUT.items():
    _FREQUENCY_IN.setdefault(_code, (_unit, _interval))

_LANGUAGES_OUT = {"th": "THA", "en": "ENG", "zh": "ZHO", "ms": "MSA", "my": "MYA", "lo": "LAO", "km": "KHM",
                  "ja": "JPN", "ko": "KOR", "fr": "FRA", "de": "DEU", "ar": "ARA", "other": "MUL"}
_LANGUAGES_IN = {eu: code for code, eu in _LANGUAGES_OUT.items()}
_BCP47 = {code: code for code in _LANGUAGES_OUT if code != "other"}

# Resource formats (upper case, as stored) -> EU file type and IANA media type.
_FILE_TYPES: dict[str, tuple[str, str | None]] = {
    "CSV": ("CSV", "text/csv"), "TSV": ("TSV", "text/tab-separated-values"),
    "JSON": ("JSON", "application/json"), "GEOJSON": ("GEOJSON", "application/geo+json"),
    "XML": ("XML", "application/xml"), "XLSX": ("XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "XLS": ("XLS", "application/vnd.ms-excel"), "ODS": ("ODS", "application/vnd.oasis.opendocument.spreadsheet"),
    "PDF": ("PDF", "application/pdf"), "KML": ("KML", "application/vnd.google-earth.kml+xml"),
    "KMZ": ("KMZ", "application/vnd.google-earth.kmz"), "SHP": ("SHP", None), "ZIP": ("ZIP", "application/zip"),
    "RDF": ("RDF_XML", "application/rdf+xml"), "TTL": ("RDF_TURTLE", "text/turtle"),
    "JSONLD": ("JSON_LD", "application/ld+json"), "HTML": ("HTML", "text/html"), "TXT": ("TXT", "text/plain"),
    "DOCX": ("DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "DOC": ("DOC", "application/msword"), "GML": ("GML", "application/gml+xml"), "TIFF": ("TIFF", "image/tiff"),
    "PNG": ("PNG", "image/png"), "JPEG": ("JPEG", "image/jpeg"),
}
_FILE_TYPES_IN = {eu: fmt for fmt, (eu, _) in _FILE_TYPES.items()}
_MEDIA_TYPES_IN = {media: fmt for fmt, (_, media) in _FILE_TYPES.items() if media}
# Formats whose link is not a file to download but a service or a page.
_NOT_DOWNLOADS = frozenset({"API", "HTML", "WMS", "WFS", "", "OTHER"})


def _access_right(category: str, classification: str) -> str:
    """EU access right of a dataset from its GDC data-governance category and classification."""
    if category == "public" and classification == "open":
        return "PUBLIC"
    if category in ("security", "secret") or classification in ("confidential", "secret", "top_secret"):
        return "NON_PUBLIC"
    return "RESTRICTED"


_ACCESS_IN = {"PUBLIC": ("public", "open"), "RESTRICTED": ("internal", "internal"),
              "NON_PUBLIC": ("secret", "confidential")}


def _licence_url(licence_id: str, base_url: str) -> str:
    licence = vocab.LICENSES_BY_ID.get(licence_id)
    if licence and licence.url:
        return licence.url
    # Licences without a page of their own get one under our namespace (no URL is no licence).
    return f"{base_url}/ns/gdc/licence/{licence_id}"


def _fold_url(url: str) -> str:
    return re.sub(r"^https?://", "", url.strip()).rstrip("/").casefold()


_LICENCES_BY_URL = {_fold_url(licence.url): licence.id for licence in vocab.LICENSES if licence.url}


def licence_id_of_url(url: str) -> str | None:
    """Our licence id for a licence document's address (ours or a known one), or None."""
    folded = _fold_url(url)
    if folded in _LICENCES_BY_URL:
        return _LICENCES_BY_URL[folded]
    if "/ns/gdc/licence/" in folded:
        return vocab.license_id_of(url.rstrip("/").rsplit("/", 1)[-1])
    return None


# ---------------------------------------------------------------- GDC fields of our own namespace

def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


# CKAN/GDC field -> (local name in gdc:, kind). Kinds: code, codes, text, int, decimal, bool, date.
GDC_TERMS: dict[str, tuple[str, str]] = {
    "data_type": ("dataType", "code"),
    "objective": ("objective", "codes"),
    "update_frequency_unit": ("updateFrequencyUnit", "code"),
    "update_frequency_interval": ("updateFrequencyInterval", "int"),
    "geo_coverage": ("geoCoverage", "code"),
    "data_source": ("dataSource", "text"),
    "data_format": ("dataFormat", "codes"),
    "data_category": ("dataCategory", "code"),
    "data_classification": ("dataClassification", "code"),
    "data_language": ("dataLanguage", "codes"),
    "high_value_dataset": ("highValueDataset", "bool"),
    "reference_data": ("referenceData", "bool"),
    "allow_harvest": ("allowHarvest", "bool"),
    "created_date": ("dataCreated", "date"),
    "last_updated_date": ("dataUpdated", "date"),
    "license_id": ("licenseId", "text"),
}
_TYPE_FIELD_KINDS = {"bool": "bool", "text": "text", "int": "int", "lon": "decimal", "lat": "decimal"}
for _name in ALL_TYPE_FIELDS:
    _kind = {**STATISTICAL_FIELDS, **GEOSPATIAL_FIELDS}[_name][0]
    GDC_TERMS[_name] = (_camel(_name), _TYPE_FIELD_KINDS[_kind])
_GDC_BY_LOCAL = {local: (name, kind) for name, (local, kind) in GDC_TERMS.items()}
GDC_LABELS: dict[str, tuple[str, str]] = {
    "data_type": ("ประเภทชุดข้อมูล", "Dataset type"), "objective": ("วัตถุประสงค์", "Objective"),
    "update_frequency_unit": ("หน่วยความถี่ของการปรับปรุงข้อมูล", "Update frequency unit"),
    "update_frequency_interval": ("ความถี่ของการปรับปรุงข้อมูล", "Update frequency interval"),
    "geo_coverage": ("ขอบเขตเชิงภูมิศาสตร์หรือเชิงพื้นที่", "Geographic coverage"),
    "data_source": ("แหล่งที่มา", "Data source"), "data_format": ("รูปแบบการจัดเก็บข้อมูล", "Storage format"),
    "data_category": ("หมวดหมู่ข้อมูลตามธรรมาภิบาลข้อมูล", "Data-governance category"),
    "data_classification": ("ชั้นความลับของข้อมูล", "Classification"),
    "data_language": ("ภาษาที่ใช้", "Language"), "high_value_dataset": ("ชุดข้อมูลที่มีคุณค่าสูง", "High-value dataset"),
    "reference_data": ("ข้อมูลอ้างอิง", "Reference data"), "allow_harvest": ("อนุญาตให้เก็บเกี่ยวข้อมูล", "Allow harvest"),
    "created_date": ("วันที่เริ่มต้นสร้างข้อมูล", "Data first created"),
    "last_updated_date": ("วันที่ปรับปรุงข้อมูลล่าสุด", "Data last updated"),
    "license_id": ("รหัสสัญญาอนุญาต", "Licence id"),
}


def _gdc_literal(kind: str, value: Any) -> Literal | None:
    if value is None or value == "":
        return None
    if kind == "bool":
        return Literal(bool(value), datatype=XSD.boolean)
    if kind == "int":
        return Literal(int(value), datatype=XSD.integer)
    if kind == "decimal":
        return Literal(Decimal(str(value)), datatype=XSD.decimal)
    if kind == "date":
        return Literal(str(value)[:10], datatype=XSD.date)
    return Literal(str(value))


def gdc_vocabulary_graph(base_url: str) -> Graph:
    """The `gdc:` namespace itself: one property per GDC field, labelled in Thai and English."""
    gdc = gdc_namespace(base_url)
    graph = _new_graph(base_url)
    ontology = URIRef(f"{base_url}/ns/gdc")
    graph.add((ontology, RDF.type, OWL.Ontology))
    graph.add((ontology, DCT.title, Literal("ฟิลด์ของมาตรฐานคำอธิบายข้อมูลภาครัฐ (GDC)", lang="th")))
    graph.add((ontology, DCT.title, Literal("Thai Government Data Catalog (GDC) fields", lang="en")))
    datatypes = {"bool": XSD.boolean, "int": XSD.integer, "decimal": XSD.decimal, "date": XSD.date}
    for name, (local, kind) in GDC_TERMS.items():
        term = gdc[local]
        graph.add((term, RDF.type, OWL.DatatypeProperty))
        graph.add((term, RDFS.isDefinedBy, ontology))
        graph.add((term, RDFS.domain, DCAT.Dataset))
        graph.add((term, RDFS.range, datatypes.get(kind, XSD.string)))
        th, en = GDC_LABELS.get(name, (name, name.replace("_", " ").capitalize()))
        graph.add((term, RDFS.label, Literal(th, lang="th")))
        graph.add((term, RDFS.label, Literal(en, lang="en")))
        graph.add((term, RDFS.comment, Literal(f"CKAN field `{name}`" + (", a code of the GDC vocabulary"
                                                                       if kind in ("code", "codes") else ""))))
    return graph


# ---------------------------------------------------------------- building graphs

def _new_graph(base_url: str) -> Graph:
    graph = Graph(bind_namespaces="none")
    graph.bind("rdf", RDF)
    for prefix, namespace in JSONLD_PREFIXES.items():
        graph.bind(prefix, Namespace(namespace))
    graph.bind("gdc", gdc_namespace(base_url))
    return graph


_THAI = re.compile(r"[\u0E00-\u0E7F]")


def _keyword_language(keyword: str) -> str:
    """Thai for keywords with Thai letters, English for the others (GDC keywords mix both)."""
    return "th" if _THAI.search(keyword) else "en"


def _datetime_literal(value: str | None) -> Literal | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # package dicts carry naive UTC, as CKAN's do
    return Literal(parsed.astimezone(UTC).replace(microsecond=0), datatype=XSD.dateTime)


def dataset_uri(package: dict[str, Any], base_url: str) -> URIRef:
    """The dataset's URI: by id, which survives a change of URL name."""
    return URIRef(f"{base_url}/dataset/{package['id']}")


def landing_page(package: dict[str, Any], base_url: str) -> str:
    """The dataset's page for people."""
    return f"{base_url}/dataset/{package['name']}"


def _add_dataset(graph: Graph, package: dict[str, Any], base_url: str) -> URIRef:
    gdc = gdc_namespace(base_url)
    subject = dataset_uri(package, base_url)
    add = graph.add
    add((subject, RDF.type, DCAT.Dataset))
    add((subject, DCT.identifier, Literal(package["id"])))
    identifier = BNode()
    add((subject, ADMS.identifier, identifier))
    add((identifier, RDF.type, ADMS.Identifier))
    add((identifier, SKOS.notation, Literal(package["name"])))
    add((identifier, DCT.creator, URIRef(base_url)))
    add((subject, DCAT.landingPage, URIRef(landing_page(package, base_url))))
    add((subject, DCT.title, Literal(package["title"], lang="th")))
    if package.get("title_en"):
        add((subject, DCT.title, Literal(package["title_en"], lang="en")))
    if package.get("notes"):
        add((subject, DCT.description, Literal(package["notes"], lang="th")))
    for tag in package.get("tags") or []:
        add((subject, DCAT.keyword, Literal(tag["name"], lang=_keyword_language(tag["name"]))))
    _add_publisher(graph, subject, package.get("organization") or {}, base_url)
    if package.get("maintainer") or package.get("maintainer_email"):
        contact = BNode()
        add((subject, DCAT.contactPoint, contact))
        add((contact, RDF.type, VCARD.Kind))
        add((contact, VCARD.fn, Literal(package.get("maintainer") or package["organization"]["title"])))
        if package.get("maintainer_email"):
            add((contact, VCARD.hasEmail, URIRef(safe_iri(f"mailto:{package['maintainer_email']}"))))
    frequency = frequency_uri(package.get("update_frequency_unit"), package.get("update_frequency_interval"))
    if frequency:
        add((subject, DCT.accrualPeriodicity, URIRef(frequency)))
    _add_spatial(graph, subject, package, gdc)
    _add_temporal(graph, subject, package)
    for code in package.get("data_language") or []:
        if code in _LANGUAGES_OUT:
            add((subject, DCT.language, URIRef(EU_LANGUAGE + _LANGUAGES_OUT[code])))
    licence = URIRef(_licence_url(package["license_id"], base_url))
    add((subject, DCT.license, licence))
    add((licence, RDF.type, DCT.LicenseDocument))
    if package.get("license_title"):
        add((licence, DCT.title, Literal(package["license_title"])))
    add((subject, DCT.accessRights, URIRef(EU_ACCESS_RIGHT + _access_right(
        package.get("data_category") or "", package.get("data_classification") or ""))))
    for group in package.get("groups") or []:
        theme = URIRef(f"{base_url}/group/{group['name']}")
        add((subject, DCAT.theme, theme))
        add((theme, RDF.type, SKOS.Concept))
        add((theme, SKOS.prefLabel, Literal(group.get("title") or group["name"], lang="th")))
        add((theme, SKOS.inScheme, URIRef(f"{base_url}/group")))
    for predicate, key in ((DCT.issued, "metadata_created"), (DCT.modified, "metadata_modified")):
        literal = _datetime_literal(package.get(key))
        if literal is not None:
            add((subject, predicate, literal))
    if package.get("url"):
        add((subject, FOAF.page, URIRef(safe_iri(package["url"]))))
    if package.get("data_source"):
        add((subject, DCT.source, Literal(package["data_source"])))
    for name, (local, kind) in GDC_TERMS.items():
        value = package.get(name)
        for item in (value or []) if kind == "codes" else [value]:
            literal = _gdc_literal(kind, item)
            if literal is not None:
                add((subject, gdc[local], literal))
    for resource in package.get("resources") or []:
        _add_distribution(graph, subject, package, resource, base_url)
    return subject


def frequency_uri(unit: str | None, interval: int | None) -> str | None:
    """EU frequency URI of a GDC update frequency (OTHER for an interval with no EU term)."""
    if not unit:
        return None
    code = _FREQUENCY_OUT.get((unit, interval or 1)) or "OTHER"
    return EU_FREQUENCY + code


def _add_publisher(graph: Graph, subject: URIRef, organization: dict[str, Any], base_url: str) -> None:
    if not organization:
        return
    publisher = URIRef(f"{base_url}/organization/{organization['name']}")
    graph.add((subject, DCT.publisher, publisher))
    graph.add((publisher, RDF.type, FOAF.Organization))
    graph.add((publisher, DCT.identifier, Literal(organization["name"])))
    graph.add((publisher, FOAF.name, Literal(organization["title"], lang="th")))
    if organization.get("title_en"):
        graph.add((publisher, FOAF.name, Literal(organization["title_en"], lang="en")))


def _bbox_wkt(fields: dict[str, Any]) -> str | None:
    bounds = [fields.get(key) for key in ("west_bound_longitude", "south_bound_latitude",
                                          "east_bound_longitude", "north_bound_latitude")]
    if any(value is None for value in bounds):
        return None
    west, south, east, north = (float(value) for value in bounds)  # type: ignore[arg-type]
    corners = [(west, south), (west, north), (east, north), (east, south), (west, south)]
    return "POLYGON((" + ", ".join(f"{x:g} {y:g}" for x, y in corners) + "))"


def _add_spatial(graph: Graph, subject: URIRef, package: dict[str, Any], gdc: Namespace) -> None:
    coverage = package.get("geo_coverage")
    wkt = _bbox_wkt(package)
    if coverage in (None, "", "none", "unknown") and not wkt:
        return
    location = BNode()
    graph.add((subject, DCT.spatial, location))
    graph.add((location, RDF.type, DCT.Location))
    if coverage:
        term = vocab.GEO_COVERAGES.term(coverage)
        graph.add((location, gdc.geoCoverage, Literal(coverage)))
        if term:
            graph.add((location, SKOS.prefLabel, Literal(term.th, lang="th")))
            graph.add((location, SKOS.prefLabel, Literal(term.en, lang="en")))
    if coverage == "country":
        # A Thai government portal's "country" coverage is Thailand.
        graph.add((subject, DCT.spatial, URIRef(EU_COUNTRY + "THA")))
    if wkt:
        literal = Literal(wkt, datatype=GSP.wktLiteral)
        graph.add((location, DCAT.bbox, literal))
        graph.add((location, LOCN.geometry, literal))


def _add_temporal(graph: Graph, subject: URIRef, package: dict[str, Any]) -> None:
    first, last = package.get("first_year_of_data"), package.get("last_year_of_data")
    if not first and not last:
        return
    period = BNode()
    graph.add((subject, DCT.temporal, period))
    graph.add((period, RDF.type, DCT.PeriodOfTime))
    if first:
        graph.add((period, DCAT.startDate, Literal(f"{int(first):04d}", datatype=XSD.gYear)))
    if last:
        graph.add((period, DCAT.endDate, Literal(f"{int(last):04d}", datatype=XSD.gYear)))


def _add_distribution(graph: Graph, dataset: URIRef, package: dict[str, Any], resource: dict[str, Any],
                      base_url: str) -> None:
    add = graph.add
    subject = URIRef(f"{base_url}/dataset/{package['id']}/resource/{resource['id']}")
    add((dataset, DCAT.distribution, subject))
    add((subject, RDF.type, DCAT.Distribution))
    add((subject, DCT.identifier, Literal(resource["id"])))
    if resource.get("name"):
        add((subject, DCT.title, Literal(resource["name"], lang="th")))
    if resource.get("description"):
        add((subject, DCT.description, Literal(resource["description"], lang="th")))
    url = resource.get("url") or ""
    fmt = (resource.get("format") or "").upper()
    if url:
        add((subject, DCAT.accessURL, URIRef(safe_iri(url))))
        if resource.get("url_type") == "upload" or fmt not in _NOT_DOWNLOADS:
            add((subject, DCAT.downloadURL, URIRef(safe_iri(url))))
    if fmt:
        file_type = _FILE_TYPES.get(fmt)
        add((subject, DCT.format, URIRef(EU_FILE_TYPE + file_type[0]) if file_type else Literal(fmt)))
    media = resource.get("mimetype") or (_FILE_TYPES.get(fmt) or ("", None))[1]
    if media:
        add((subject, DCAT.mediaType, URIRef(IANA_MEDIA_TYPES + media)))
    if resource.get("size") is not None:
        add((subject, DCAT.byteSize, Literal(int(resource["size"]), datatype=XSD.nonNegativeInteger)))
    digest = (resource.get("hash") or "").removeprefix("sha256:")
    if re.fullmatch(r"[0-9a-f]{64}", digest):
        checksum = BNode()
        add((subject, SPDX.checksum, checksum))
        add((checksum, RDF.type, SPDX.Checksum))
        add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
        add((checksum, SPDX.checksumValue, Literal(digest, datatype=XSD.hexBinary)))
    add((subject, DCT.license, URIRef(_licence_url(package["license_id"], base_url))))
    for predicate, key in ((DCT.issued, "created"), (DCT.modified, "last_modified")):
        literal = _datetime_literal(resource.get(key))
        if literal is not None:
            add((subject, predicate, literal))


def dataset_graph(package: dict[str, Any], base_url: str) -> Graph:
    """One dataset as DCAT-AP, with its distributions, publisher and the catalog it belongs to."""
    graph = _new_graph(base_url)
    subject = _add_dataset(graph, package, base_url)
    catalog = URIRef(f"{base_url}/catalog")
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCAT.dataset, subject))
    return graph


CATALOG_TITLE = ("แคตตาล็อกข้อมูลเปิดภาครัฐ", "Government open data catalog")
CATALOG_DESCRIPTION = ("ชุดข้อมูลเปิดของหน่วยงานภาครัฐ ตามมาตรฐานคำอธิบายข้อมูลภาครัฐ (GDC)",
                       "Open datasets of government agencies, described with the Thai Government Data Catalog (GDC) schema")


def catalog_graph(packages: Iterable[dict[str, Any]], *, page: int, page_size: int, total: int, base_url: str,
                  page_url: Callable[[int], str] | None = None, modified: datetime | None = None) -> Graph:
    """One page of the catalog: the catalog's own description, its datasets and Hydra paging links."""
    graph = _new_graph(base_url)
    catalog = URIRef(f"{base_url}/catalog")
    add = graph.add
    add((catalog, RDF.type, DCAT.Catalog))
    add((catalog, DCT.title, Literal(CATALOG_TITLE[0], lang="th")))
    add((catalog, DCT.title, Literal(CATALOG_TITLE[1], lang="en")))
    add((catalog, DCT.description, Literal(CATALOG_DESCRIPTION[0], lang="th")))
    add((catalog, DCT.description, Literal(CATALOG_DESCRIPTION[1], lang="en")))
    add((catalog, FOAF.homepage, URIRef(f"{base_url}/")))
    add((catalog, DCT.language, URIRef(EU_LANGUAGE + "THA")))
    add((catalog, DCT.language, URIRef(EU_LANGUAGE + "ENG")))
    add((catalog, DCAT.themeTaxonomy, URIRef(f"{base_url}/group")))
    operator = URIRef(f"{base_url}/#operator")
    add((catalog, DCT.publisher, operator))
    add((operator, RDF.type, FOAF.Agent))
    add((operator, FOAF.name, Literal("ผู้ดูแลแคตตาล็อกข้อมูลเปิด", lang="th")))
    add((operator, FOAF.name, Literal("Open data catalog operator", lang="en")))
    if modified is not None:
        add((catalog, DCT.modified, Literal(modified.astimezone(UTC).replace(microsecond=0), datatype=XSD.dateTime)))
    for package in packages:
        add((catalog, DCAT.dataset, _add_dataset(graph, package, base_url)))
    link = page_url or (lambda number: f"{base_url}/catalog.jsonld?page={number}")
    last = max(1, -(-total // page_size))
    view = URIRef(link(page))
    add((catalog, HYDRA.view, view))
    add((view, RDF.type, HYDRA.PartialCollectionView))
    add((view, HYDRA.totalItems, Literal(total, datatype=XSD.integer)))
    add((view, HYDRA.itemsPerPage, Literal(page_size, datatype=XSD.integer)))
    add((view, HYDRA.first, URIRef(link(1))))
    add((view, HYDRA.last, URIRef(link(last))))
    if page < last:
        add((view, HYDRA.next, URIRef(link(page + 1))))
    if page > 1:
        add((view, HYDRA.previous, URIRef(link(min(page - 1, last)))))
    return graph


# Characters an IRI may hold as they are; everything else a publisher typed is percent-encoded.
_IRI_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def safe_iri(text: str) -> str:
    """A publisher's link as a valid IRI (quotes, braces, spaces and the like percent-encoded)."""
    return quote(text, safe=_IRI_SAFE + "".join(ch for ch in set(text) if ord(ch) > 127))


def serialize(graph: Graph, fmt: str) -> tuple[bytes, str]:
    """The graph as bytes in "json-ld", "turtle" or "xml", with its media type."""
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"unknown RDF format {fmt!r}")
    if fmt == "json-ld":
        context = {prefix: str(namespace) for prefix, namespace in graph.namespaces() if prefix not in ("rdf", "xml")}
        data = graph.serialize(format="json-ld", context=context, auto_compact=True, encoding="utf-8")
    else:
        data = graph.serialize(format=fmt, encoding="utf-8")
    return data, MEDIA_TYPES[fmt]


# ---------------------------------------------------------------- schema.org

def schema_org_jsonld(package: dict[str, Any], base_url: str) -> dict[str, Any]:
    """schema.org Dataset JSON-LD for a dataset page (what search engines read)."""
    organization = package.get("organization") or {}
    publisher = {"@type": "GovernmentOrganization", "name": organization.get("title") or "",
                 "url": f"{base_url}/organization/{organization.get('name', '')}"}
    if organization.get("title_en"):
        publisher["alternateName"] = organization["title_en"]
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": str(dataset_uri(package, base_url)),
        "name": package["title"],
        "description": package.get("notes") or package["title"],
        "url": landing_page(package, base_url),
        "identifier": [package["id"], package["name"]],
        "keywords": [tag["name"] for tag in package.get("tags") or []],
        "creator": publisher,
        "publisher": publisher,
        "isAccessibleForFree": True,
        "includedInDataCatalog": {"@type": "DataCatalog", "name": CATALOG_TITLE[0], "url": f"{base_url}/dataset"},
    }
    if package.get("title_en"):
        data["alternateName"] = package["title_en"]
    licence = vocab.LICENSES_BY_ID.get(package.get("license_id") or "")
    if licence and licence.url:
        data["license"] = licence.url
    elif licence:
        data["license"] = {"@type": "CreativeWork", "name": licence.title}
    first, last = package.get("first_year_of_data"), package.get("last_year_of_data")
    if first or last:
        data["temporalCoverage"] = f"{first or '..'}/{last or '..'}"
    place: dict[str, Any] = {}
    term = vocab.GEO_COVERAGES.term(package.get("geo_coverage") or "")
    if term and term.code not in ("none", "unknown"):
        place = {"@type": "Place", "name": "ประเทศไทย" if term.code == "country" else term.th}
    wkt_bounds = [package.get(key) for key in ("south_bound_latitude", "west_bound_longitude",
                                               "north_bound_latitude", "east_bound_longitude")]
    if all(value is not None for value in wkt_bounds):
        place = place or {"@type": "Place"}
        place["geo"] = {"@type": "GeoShape", "box": " ".join(f"{float(value):g}" for value in wkt_bounds)}
    if place:
        data["spatialCoverage"] = place
    languages = [_BCP47[code] for code in package.get("data_language") or [] if code in _BCP47]
    if languages:
        data["inLanguage"] = languages if len(languages) > 1 else languages[0]
    for key, source in (("dateCreated", "metadata_created"), ("dateModified", "metadata_modified")):
        if package.get(source):
            data[key] = _datetime_literal(package[source]).toPython().isoformat()  # type: ignore[union-attr]
    if package.get("maintainer_email") or package.get("maintainer"):
        data["creator"] = {**publisher, "contactPoint": {
            "@type": "ContactPoint", "contactType": "data steward",
            **({"name": package["maintainer"]} if package.get("maintainer") else {}),
            **({"email": package["maintainer_email"]} if package.get("maintainer_email") else {})}}
    distributions = []
    for resource in package.get("resources") or []:
        if not resource.get("url"):
            continue
        fmt = (resource.get("format") or "").upper()
        entry: dict[str, Any] = {"@type": "DataDownload", "contentUrl": resource["url"],
                                 "encodingFormat": resource.get("mimetype") or (_FILE_TYPES.get(fmt) or ("", None))[1]
                                 or fmt or "application/octet-stream"}
        if resource.get("name"):
            entry["name"] = resource["name"]
        if resource.get("size") is not None:
            entry["contentSize"] = f"{int(resource['size'])} B"
        distributions.append(entry)
    if distributions:
        data["distribution"] = distributions
    return data


_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_json(data: Any) -> str:
    """JSON that is safe inside a <script> element: no `</script>`, `<!--` or line separators."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda match: _SCRIPT_ESCAPES[match.group()], text)


def schema_org_script(package: dict[str, Any], base_url: str) -> Markup:
    """The `<script type="application/ld+json">` element a dataset page embeds."""
    return Markup('<script type="application/ld+json">') + Markup(script_json(  # noqa: S704 - escaped above
        schema_org_jsonld(package, base_url))) + Markup("</script>")


# ---------------------------------------------------------------- reading DCAT (harvesting)

def _gdc_predicates(graph: Graph) -> dict[Node, tuple[str, str]]:
    """The gdc: predicates in the graph, of any govhub portal: predicate -> (field, kind)."""
    found: dict[Node, tuple[str, str]] = {}
    for predicate in set(graph.predicates()):
        text = str(predicate)
        if GDC_PATH in text:
            local = text.rsplit("#", 1)[-1]
            if local in _GDC_BY_LOCAL:
                found[predicate] = _GDC_BY_LOCAL[local]
    return found


def _by_language(graph: Graph, subject: Node, predicate: Node) -> dict[str, str]:
    """The literals of subject/predicate by language tag ("" for none); the first of each."""
    values: dict[str, str] = {}
    for value in sorted(graph.objects(subject, predicate), key=str):
        if isinstance(value, Literal):
            values.setdefault((value.language or "").lower().split("-")[0], str(value))
    return values


def _pick(values: dict[str, str], *languages: str) -> str:
    for language in languages:
        if values.get(language):
            return values[language]
    return next(iter(values.values()), "")


def _value(graph: Graph, subject: Node, predicate: Node) -> Node | None:
    return next(iter(sorted(graph.objects(subject, predicate), key=str)), None)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9_-]+", "-", ascii_text).strip("-")[:100]
    return slug if NAME_PATTERN.match(slug) else ""


def _last_segment(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1].split("#")[-1]


def _python(value: Node | None) -> Any:
    return value.toPython() if isinstance(value, Literal) else (str(value) if value is not None else None)


def _iso_text(value: Any) -> str | None:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if value not in (None, "") else None


def _year(value: Node | None) -> int | None:
    text = str(value or "")
    match = re.match(r"^(\d{4})", text)
    return int(match.group(1)) if match else None


def _organization_of(graph: Graph, dataset: Node) -> dict[str, Any]:
    publisher = _value(graph, dataset, DCT.publisher)
    if publisher is None:
        return {}
    names = _by_language(graph, publisher, FOAF.name)
    identifier = str(_value(graph, publisher, DCT.identifier) or "")
    candidates = [identifier, _last_segment(str(publisher)) if isinstance(publisher, URIRef) else "",
                  _slug(names.get("en", "")), _slug(_pick(names, "en", ""))]
    name = next((candidate for candidate in candidates if candidate and NAME_PATTERN.match(candidate)), "")
    if not name:
        basis = str(publisher) if isinstance(publisher, URIRef) else _pick(names, "th", "", "en")
        name = "org-" + sha256(basis.encode()).hexdigest()[:10]
    return {"name": name, "title": _pick(names, "th", "", "en") or name, "title_en": names.get("en", "")}


def _distribution(graph: Graph, node: Node) -> dict[str, Any] | None:
    url = _value(graph, node, DCAT.downloadURL) or _value(graph, node, DCAT.accessURL)
    if url is None:
        return None
    titles = _by_language(graph, node, DCT.title)
    descriptions = _by_language(graph, node, DCT.description)
    fmt_node = _value(graph, node, DCT.format)
    fmt = ""
    if isinstance(fmt_node, URIRef):
        code = _last_segment(str(fmt_node))
        fmt = _FILE_TYPES_IN.get(code, code.upper())
    elif fmt_node is not None:
        fmt = str(_pick(_by_language(graph, node, DCT.format)) or fmt_node).upper()
    media = _value(graph, node, DCAT.mediaType)
    mimetype = str(media).removeprefix(IANA_MEDIA_TYPES) if media is not None else ""
    if not fmt and mimetype in _MEDIA_TYPES_IN:
        fmt = _MEDIA_TYPES_IN[mimetype]
    resource: dict[str, Any] = {"name": _pick(titles, "th", "", "en"), "description": _pick(descriptions, "th", "", "en"),
                                "url": str(url), "format": fmt[:32]}
    if mimetype:
        resource["mimetype"] = mimetype
    return resource


def _frequency_of(graph: Graph, dataset: Node) -> tuple[str | None, int | None]:
    node = _value(graph, dataset, DCT.accrualPeriodicity)
    if node is None:
        return None, None
    if isinstance(node, URIRef) and str(node).startswith(EU_FREQUENCY):
        return _FREQUENCY_IN.get(_last_segment(str(node)), ("other", None))
    return vocab.UPDATE_FREQUENCIES.code_of(_last_segment(str(node))) or "other", None


def package_from_dcat(graph: Graph, dataset: Node, gdc_terms: dict[Node, tuple[str, str]] | None = None) -> dict[str, Any]:
    """One dcat:Dataset as a CKAN/GDC package dict (no owner_org: the harvester decides it)."""
    gdc_terms = _gdc_predicates(graph) if gdc_terms is None else gdc_terms
    titles = _by_language(graph, dataset, DCT.title)
    descriptions = _by_language(graph, dataset, DCT.description)
    identifier = str(_value(graph, dataset, DCT.identifier) or (dataset if isinstance(dataset, URIRef) else ""))
    notations = [str(_value(graph, node, SKOS.notation) or "") for node in graph.objects(dataset, ADMS.identifier)]
    names = [*notations, _last_segment(identifier), _slug(titles.get("en", ""))]
    package: dict[str, Any] = {
        "id": identifier,
        "name": next((name for name in names if name and NAME_PATTERN.match(name)), ""),
        "title": _pick(titles, "th", "", "en"),
        "title_en": titles.get("en", "") if _pick(titles, "th", "", "en") != titles.get("en") else "",
        "notes": _pick(descriptions, "th", "", "en"),
        "tags": [{"name": str(keyword)} for keyword in sorted(graph.objects(dataset, DCAT.keyword), key=str)],
        "organization": _organization_of(graph, dataset),
        "private": False,
        "state": "active",
    }
    modified = _python(_value(graph, dataset, DCT.modified))
    package["metadata_modified"] = _iso_text(modified)
    page = _value(graph, dataset, FOAF.page) or _value(graph, dataset, DCAT.landingPage)
    if isinstance(page, URIRef) and str(page).startswith(("http://", "https://")):
        package["url"] = str(page)
    source = _value(graph, dataset, DCT.source)
    if isinstance(source, Literal):
        package["data_source"] = str(source)
    contact = _value(graph, dataset, DCAT.contactPoint)
    if contact is not None:
        package["maintainer"] = str(_value(graph, contact, VCARD.fn) or "")
        email = _value(graph, contact, VCARD.hasEmail)
        if email is not None:
            package["maintainer_email"] = str(email).removeprefix("mailto:")
    unit, interval = _frequency_of(graph, dataset)
    if unit:
        package["update_frequency_unit"], package["update_frequency_interval"] = unit, interval
    languages = [_LANGUAGES_IN.get(_last_segment(str(node))) for node in graph.objects(dataset, DCT.language)]
    if any(languages):
        package["data_language"] = sorted({code for code in languages if code})
    for node in graph.objects(dataset, DCT.license):
        licence = licence_id_of_url(str(node)) or vocab.license_id_of(str(_value(graph, node, DCT.identifier) or ""))
        if licence:
            package["license_id"] = licence
            break
    rights = _value(graph, dataset, DCT.accessRights)
    if rights is not None and _last_segment(str(rights)) in _ACCESS_IN:
        package["data_category"], package["data_classification"] = _ACCESS_IN[_last_segment(str(rights))]
    _read_spatial(graph, dataset, package, gdc_terms)
    period = _value(graph, dataset, DCT.temporal)
    if period is not None:
        first = _year(_value(graph, period, DCAT.startDate) or _value(graph, period, SCHEMA.startDate))
        last = _year(_value(graph, period, DCAT.endDate) or _value(graph, period, SCHEMA.endDate))
        if first:
            package["first_year_of_data"] = first
        if last:
            package["last_year_of_data"] = last
    package["groups"] = [{"name": _last_segment(str(theme))} for theme in sorted(graph.objects(dataset, DCAT.theme), key=str)
                         if isinstance(theme, URIRef)]
    # Our own gdc: terms, from whichever govhub published them, say it more exactly than the
    # EU vocabularies can: they win.
    multi: dict[str, list[Any]] = {}
    for predicate, (name, kind) in gdc_terms.items():
        for value in sorted(graph.objects(dataset, predicate), key=str):
            python = _python(value)
            if kind == "codes":
                multi.setdefault(name, []).append(str(python))
            elif kind == "decimal":
                package[name] = float(python)
            elif kind == "date":
                package[name] = _iso_text(python)
            else:
                package[name] = python
    for name, values in multi.items():
        package[name] = values
    if "data_type" not in package and "west_bound_longitude" in package:
        package["data_type"] = "geospatial"  # a bounding box without GDC terms: the GDC type that has one
    resources = [_distribution(graph, node) for node in sorted(graph.objects(dataset, DCAT.distribution), key=str)]
    package["resources"] = [resource for resource in resources if resource]
    return package


def _read_spatial(graph: Graph, dataset: Node, package: dict[str, Any], gdc_terms: dict[Node, tuple[str, str]]) -> None:
    for location in graph.objects(dataset, DCT.spatial):
        if isinstance(location, URIRef) and str(location).startswith(EU_COUNTRY):
            package.setdefault("geo_coverage", "country")
            continue
        for predicate, (name, _) in gdc_terms.items():
            if name == "geo_coverage":
                value = _value(graph, location, predicate)
                if value is not None:
                    package["geo_coverage"] = str(value)
        wkt = _value(graph, location, DCAT.bbox) or _value(graph, location, LOCN.geometry)
        bounds = _wkt_bounds(str(wkt)) if wkt is not None else None
        if bounds:
            for key, value in zip(("west_bound_longitude", "south_bound_latitude", "east_bound_longitude",
                                   "north_bound_latitude"), bounds, strict=True):
                package.setdefault(key, value)
            package.setdefault("geo_coverage", "coordinates")


def _wkt_bounds(wkt: str) -> tuple[float, float, float, float] | None:
    """West, south, east, north of a WKT polygon (the envelope of its points)."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?(?:[eE]-?\d+)?", wkt.split(">")[-1])
    if len(numbers) < 4 or len(numbers) % 2:
        return None
    xs, ys = [float(n) for n in numbers[0::2]], [float(n) for n in numbers[1::2]]
    return min(xs), min(ys), max(xs), max(ys)


def packages_from_dcat(graph: Graph) -> list[dict[str, Any]]:
    """Every dcat:Dataset of a graph as a package dict, in a stable order."""
    gdc_terms = _gdc_predicates(graph)
    return [package_from_dcat(graph, dataset, gdc_terms)
            for dataset in sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=str)]


def next_page(graph: Graph) -> str | None:
    """The Hydra link to the next page of a paged catalog (hydra:next, or the older hydra:nextPage)."""
    for predicate in (HYDRA.next, HYDRA.nextPage):
        for value in graph.objects(None, predicate):
            return str(value)
    return None


def total_items(graph: Graph) -> int | None:
    """The catalog's dataset count its Hydra view reports, if any."""
    value = next(iter(graph.objects(None, HYDRA.totalItems)), None)
    return int(value) if value is not None else None


class UnsafeRdf(ValueError):
    """RDF this parser refuses to read (remote JSON-LD contexts, XML entity declarations)."""


def _remote_contexts(data: Any) -> bool:
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "@context" and (isinstance(value, str) or (isinstance(value, list) and any(
                    isinstance(item, str) for item in value))):
                return True
            if key == "@import" or _remote_contexts(value):
                return True
    elif isinstance(data, list):
        return any(_remote_contexts(item) for item in data)
    return False


def parse(data: bytes, fmt: str, *, base: str | None = None) -> Graph:
    """Parse DCAT read from elsewhere, refusing what would make rdflib fetch or expand more."""
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"unknown RDF format {fmt!r}")
    graph = Graph()
    if fmt == "json-ld":
        try:
            document = json.loads(data)
        except ValueError as error:
            raise UnsafeRdf(f"not JSON: {error}") from None
        # rdflib would download a context named by URL: a harvester must not be made to fetch.
        if _remote_contexts(document):
            raise UnsafeRdf("JSON-LD with a remote @context is not read; inline the context")
        graph.parse(data=document, format="json-ld", publicID=base)  # type: ignore[arg-type]
        return graph
    if fmt == "xml" and re.search(rb"<!(ENTITY|DOCTYPE)", data[:65536]):
        raise UnsafeRdf("RDF/XML with a document type or entity declarations is not read")
    graph.parse(data=data, format=fmt, publicID=base)
    return graph


def format_of(url: str, content_type: str | None) -> str | None:
    """The RDF format a URL's suffix or a response's content type names, or None."""
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    for suffix, fmt in (*SUFFIXES.items(), ("json-ld", "json-ld"), ("turtle", "turtle"), ("xml", "xml"),
                        ("owl", "xml")):
        if path.endswith("." + suffix):
            return fmt
    media = (content_type or "").split(";", 1)[0].strip().lower()
    for fmt, media_type in MEDIA_TYPES.items():
        if media == media_type:
            return fmt
    return {"application/x-turtle": "turtle", "text/n3": "turtle", "application/xml": "xml",
            "text/xml": "xml"}.get(media)
