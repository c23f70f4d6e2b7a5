"""Controlled vocabularies of the Thai Government Data Catalog (GDC) metadata schema.

Every coded field is stored as a stable ASCII code and shown with its Thai or English label.
Existing GDC portals (CKAN with ckanext-thai-gdc) exchange the Thai labels themselves, so
`code_of` also accepts a Thai label, an English label or a known alias on import, and the
CKAN API can answer with the Thai labels (`gdc_label`) for those portals' harvesters.
"""

from __future__ import annotations

from dataclasses import dataclass

from govhub.kit.i18n import current_locale


@dataclass(frozen=True)
class Term:
    """One value of a vocabulary: its code and its labels."""

    code: str
    th: str
    en: str
    aliases: tuple[str, ...] = ()

    def label(self, locale: str | None = None) -> str:
        """The label in the reader's language."""
        return self.th if (locale or current_locale.get()) == "th" else self.en


@dataclass(frozen=True)
class Vocabulary:
    """A named list of terms; lookups by code or by any label, ignoring case and spaces."""

    name: str
    terms: tuple[Term, ...]

    def __post_init__(self) -> None:
        index: dict[str, Term] = {}
        for term in self.terms:
            for key in (term.code, term.th, term.en, *term.aliases):
                index[_fold(key)] = term
        object.__setattr__(self, "_index", index)

    def codes(self) -> list[str]:
        """Every code, in display order."""
        return [term.code for term in self.terms]

    def term(self, value: str) -> Term | None:
        """The term a code or a label names, or None."""
        return self._index.get(_fold(value))  # type: ignore[attr-defined,no-any-return]

    def code_of(self, value: str) -> str | None:
        """The code a code or a label names, or None."""
        term = self.term(value)
        return term.code if term else None

    def label(self, code: str | None, locale: str | None = None) -> str:
        """The label of a code in the reader's language ('' for none, the code if unknown)."""
        if not code:
            return ""
        term = self.term(code)
        return term.label(locale) if term else code


def _fold(value: str) -> str:
    return "".join(str(value).split()).casefold()


def _vocab(name: str, *rows: tuple[str, str, str] | tuple[str, str, str, tuple[str, ...]]) -> Vocabulary:
    return Vocabulary(name, tuple(Term(*row) for row in rows))


DATASET_TYPES = _vocab(
    "dataset_type",
    ("record", "ข้อมูลระเบียน", "Record data"),
    ("statistical", "ข้อมูลสถิติ", "Statistical data", ("stat",)),
    ("geospatial", "ข้อมูลภูมิสารสนเทศเชิงพื้นที่", "Geospatial data", ("gis", "ข้อมูลภูมิสารสนเทศ")),
    ("mixed", "ข้อมูลหลากหลายประเภท", "Mixed data", ("multi",)),
    ("other", "ข้อมูลประเภทอื่นๆ", "Other data", ("ข้อมูลประเภทอื่น ๆ",)),
)

OBJECTIVES = _vocab(
    "objective",
    ("national_strategy", "ยุทธศาสตร์ชาติ", "National Strategy"),
    ("economic_social_plan", "แผนพัฒนาเศรษฐกิจและสังคมแห่งชาติ", "National Economic and Social Development Plan"),
    ("national_security_plan", "แผนความมั่นคงแห่งชาติ", "National Security Plan"),
    ("master_plan", "แผนแม่บทภายใต้ยุทธศาสตร์ชาติ", "Master plans under the National Strategy"),
    ("reform_plan", "แผนการปฏิรูปประเทศ", "National Reform Plan", ("แผนปฏิรูปประเทศ",)),
    ("public_service", "เพื่อการให้บริการประชาชน", "Public services"),
    ("analysis", "การวิเคราะห์ข้อมูลหรือการตัดสินใจ", "Analysis and decision making"),
    ("mission_report", "การจัดทำรายงานตามพันธกิจ", "Reporting on the agency's mission"),
    ("mission", "ตามพันธกิจ", "The agency's mission", ("พันธกิจหน่วยงาน",)),
    ("law", "กฎหมายที่เกี่ยวข้อง", "Required by law"),
    ("other", "อื่นๆ", "Other", ("อื่น ๆ",)),
)

UPDATE_FREQUENCIES = _vocab(
    "update_frequency",
    ("year", "ปี", "Yearly", ("annually", "annual")),
    ("half_year", "ครึ่งปี", "Half-yearly", ("semiannual",)),
    ("quarter", "ไตรมาส", "Quarterly", ("quarterly",)),
    ("month", "เดือน", "Monthly", ("monthly",)),
    ("week", "สัปดาห์", "Weekly", ("weekly",)),
    ("day", "วัน", "Daily", ("daily",)),
    ("business_day", "วันทำการ", "Every business day"),
    ("hour", "ชั่วโมง", "Hourly", ("hourly",)),
    ("minute", "นาที", "Every minute"),
    ("realtime", "ตามเวลาจริง", "Real time", ("real-time", "continuous")),
    ("never", "ไม่มีการปรับปรุงหลังจากการจัดเก็บข้อมูล", "Not updated after collection", ("ไม่มีการปรับปรุง",)),
    ("other", "อื่นๆ", "Other", ("อื่น ๆ", "irregular")),
)

# How many days one unit of each frequency lasts: the quality score's "kept up to date" test.
FREQUENCY_DAYS = {
    "year": 366, "half_year": 183, "quarter": 92, "month": 31, "week": 7,
    "day": 1, "business_day": 3, "hour": 1, "minute": 1, "realtime": 1,
}

GEO_COVERAGES = _vocab(
    "geo_coverage",
    ("none", "ไม่มี", "None"),
    ("world", "โลก", "World"),
    ("continent", "ทวีป/กลุ่มประเทศในทวีป", "Continent or countries of a continent"),
    ("economic_bloc", "กลุ่มประเทศทางเศรษฐกิจ", "Economic bloc"),
    ("country", "ประเทศ", "Country"),
    ("region", "ภาค", "Region"),
    ("province", "จังหวัด", "Province"),
    ("district", "อำเภอ", "District"),
    ("subdistrict", "ตำบล", "Subdistrict"),
    ("village", "หมู่บ้าน", "Village"),
    ("local_government", "องค์กรปกครองส่วนท้องถิ่น", "Local government area", ("เทศบาล/อบต.",)),
    ("coordinates", "พิกัด", "Coordinates"),
    ("unknown", "ไม่ทราบ", "Unknown"),
    ("other", "อื่นๆ", "Other", ("อื่น ๆ",)),
)

# What the data is kept in at the agency (GDC "รูปแบบการจัดเก็บข้อมูล").
STORAGE_FORMATS = _vocab(
    "data_format",
    ("database", "ฐานข้อมูล", "Database", ("Database",)),
    ("csv", "CSV", "CSV"),
    ("xls", "XLS", "Spreadsheet (XLS/XLSX)", ("xlsx", "excel")),
    ("json", "JSON", "JSON"),
    ("xml", "XML", "XML"),
    ("rdf", "RDF", "RDF"),
    ("text", "ข้อความ", "Text", ("Text", "txt")),
    ("pdf", "PDF", "PDF"),
    ("html", "HTML", "HTML"),
    ("image", "รูปภาพ", "Image", ("Image",)),
    ("video", "วิดีโอ", "Video", ("Video",)),
    ("audio", "เสียง", "Audio", ("Audio",)),
    ("nosql", "NoSQL", "NoSQL"),
    ("shapefile", "Shapefile", "Shapefile", ("shp",)),
    ("geotiff", "GeoTIFF", "GeoTIFF"),
    ("gml", "GML", "GML"),
    ("kml", "KML", "KML"),
    ("geojson", "GeoJSON", "GeoJSON"),
    ("arc_info", "Arc/Info Coverage", "Arc/Info Coverage"),
    ("other", "อื่นๆ", "Other", ("อื่น ๆ",)),
)

# Data-governance category (ธรรมาภิบาลข้อมูลภาครัฐ). Only public data belongs on an open portal;
# the others may be catalogued (metadata only) so that agencies know the data exists.
DATA_CATEGORIES = _vocab(
    "data_category",
    ("public", "ข้อมูลสาธารณะ", "Public data"),
    ("internal", "ข้อมูลใช้ภายใน", "Internal data"),
    ("personal", "ข้อมูลส่วนบุคคล", "Personal data"),
    ("security", "ข้อมูลความมั่นคง", "National security data"),
    ("secret", "ข้อมูลความลับทางราชการ", "Official secret"),
)

# Classification under the Official Information Act B.E. 2540.
CLASSIFICATIONS = _vocab(
    "data_classification",
    ("open", "เปิดเผย", "Open"),
    ("internal", "เผยแพร่ภายในองค์กร", "Internal to the agency", ("ใช้ภายใน",)),
    ("confidential", "ลับ", "Confidential"),
    ("secret", "ลับมาก", "Secret"),
    ("top_secret", "ลับที่สุด", "Top secret"),
)

LANGUAGES = _vocab(
    "data_language",
    ("th", "ไทย", "Thai"),
    ("en", "อังกฤษ", "English"),
    ("zh", "จีน", "Chinese"),
    ("ms", "มลายู", "Malay"),
    ("my", "พม่า", "Burmese"),
    ("lo", "ลาว", "Lao"),
    ("km", "เขมร", "Khmer"),
    ("ja", "ญี่ปุ่น", "Japanese"),
    ("ko", "เกาหลี", "Korean"),
    ("fr", "ฝรั่งเศส", "French"),
    ("de", "เยอรมัน", "German"),
    ("ar", "อารบิก", "Arabic"),
    ("other", "อื่นๆ", "Other", ("อื่น ๆ",)),
)


@dataclass(frozen=True)
class License:
    """A licence a dataset can be published under (CKAN's license_list entry)."""

    id: str
    title: str
    title_th: str
    url: str
    od_conformance: str  # "approved" for licences that meet the Open Definition
    spdx: str | None = None

    @property
    def is_open(self) -> bool:
        """True if the licence meets the Open Definition."""
        return self.od_conformance == "approved"


LICENSES: tuple[License, ...] = (
    License("Open-D", "Open Data Common", "สัญญาอนุญาตให้ใช้ข้อมูลแบบเปิด (Open Data Common)",
            "https://data.go.th/pages/open-data-common", "approved"),
    License("cc-by", "Creative Commons Attribution 4.0", "ครีเอทีฟคอมมอนส์ แสดงที่มา 4.0",
            "https://creativecommons.org/licenses/by/4.0/", "approved", "CC-BY-4.0"),
    License("cc-by-sa", "Creative Commons Attribution Share-Alike 4.0", "ครีเอทีฟคอมมอนส์ แสดงที่มา-อนุญาตแบบเดียวกัน 4.0",
            "https://creativecommons.org/licenses/by-sa/4.0/", "approved", "CC-BY-SA-4.0"),
    License("cc-zero", "Creative Commons CCZero", "ครีเอทีฟคอมมอนส์ ซีซีศูนย์ (CC0)",
            "https://creativecommons.org/publicdomain/zero/1.0/", "approved", "CC0-1.0"),
    License("odc-by", "Open Data Commons Attribution License", "Open Data Commons แสดงที่มา",
            "https://opendatacommons.org/licenses/by/1-0/", "approved", "ODC-By-1.0"),
    License("odc-odbl", "Open Data Commons Open Database License (ODbL)", "Open Data Commons ODbL",
            "https://opendatacommons.org/licenses/odbl/1-0/", "approved", "ODbL-1.0"),
    License("cc-nc", "Creative Commons Non-Commercial (Any)", "ครีเอทีฟคอมมอนส์ ไม่ใช้เพื่อการค้า",
            "https://creativecommons.org/licenses/by-nc/4.0/", "not reviewed", "CC-BY-NC-4.0"),
    License("other-closed", "Other (Not Open)", "อื่น ๆ (ไม่เปิด)", "", "not reviewed"),
    License("notspecified", "License not specified", "ไม่ระบุสัญญาอนุญาต", "", "not reviewed"),
)
LICENSES_BY_ID = {licence.id: licence for licence in LICENSES}
# Labels GDC portals use for their licences, mapped to ours on harvest.
LICENSE_ALIASES = {
    "open data common": "Open-D", "open-d": "Open-D",
    "creative commons attributions": "cc-by", "cc-by-4.0": "cc-by",
    "creative commons attribution-noncommercial": "cc-nc",
    "others license": "other-closed",
}


def license_id_of(value: str | None) -> str | None:
    """Our licence id for an id or a title another portal uses, or None."""
    if not value:
        return None
    if value in LICENSES_BY_ID:
        return value
    folded = value.strip().casefold()
    for licence in LICENSES:
        if folded in (licence.id.casefold(), licence.title.casefold(), licence.title_th.casefold()):
            return licence.id
    return LICENSE_ALIASES.get(folded)


# Open, machine-readable formats (the plan asks agencies to publish these rather than PDF).
MACHINE_READABLE_FORMATS = frozenset(
    {"CSV", "JSON", "GEOJSON", "XML", "ODS", "KML", "SHP", "RDF", "TTL", "JSONLD", "XLSX", "XLS", "API", "TSV"}
)
# Of those, the ones not tied to one vendor's software.
OPEN_FORMATS = MACHINE_READABLE_FORMATS - {"XLS", "XLSX"}

VOCABULARIES = {
    vocabulary.name: vocabulary
    for vocabulary in (DATASET_TYPES, OBJECTIVES, UPDATE_FREQUENCIES, GEO_COVERAGES, STORAGE_FORMATS,
                       DATA_CATEGORIES, CLASSIFICATIONS, LANGUAGES)
}
