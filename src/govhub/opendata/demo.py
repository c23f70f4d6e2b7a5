"""Demo open data: organizations of the demo agencies, groups, and high-value datasets
(Bangkok bus routes, stops and fares; procurement; provincial statistics) whose CSV files are
loaded into the datastore. Idempotent: a second run changes nothing.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity import repository as identity_repository
from govhub.opendata import demo_data, repository, resources, service

DEMO_ACTOR = service.system_actor("demo")

# Organization URL name per demo agency code (agencies are created by identity.demo).
ORGANIZATIONS = {"BMTA": "bmta", "CGD": "cgd", "NSO": "nso", "DOPA": "dopa", "DGA": "dga"}
GROUPS = (
    ("transport", "คมนาคมและโลจิสติกส์", "Transport and logistics"),
    ("public-finance", "การเงินการคลังและงบประมาณ", "Public finance and budget"),
    ("population", "ประชากรและสังคม", "Population and society"),
    ("economy", "เศรษฐกิจ", "Economy"),
    ("government", "การบริหารภาครัฐ", "Government administration"),
)
SYNTHETIC = ("ข้อมูลชุดนี้เป็นข้อมูลสังเคราะห์สำหรับสาธิตระบบ ไม่ใช่ข้อมูลจริง "
             "(synthetic data for the demo, not real figures).")


@dataclass
class DemoFile:
    """A resource file of a demo dataset."""

    filename: str
    content: str
    name: str
    description: str


@dataclass
class DemoDataset:
    """A demo dataset: its package dict and its files."""

    organization: str
    package: dict[str, Any]
    files: list[DemoFile] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)


def _common(**values: Any) -> dict[str, Any]:
    base = {"objective": ["public_service", "analysis"], "update_frequency_unit": "month",
            "update_frequency_interval": 1, "geo_coverage": "province", "data_category": "public",
            "data_classification": "open", "license_id": "Open-D", "data_language": ["th"],
            "data_format": ["csv"], "maintainer_email": "opendata@demo.govhub.local"}
    base.update(values)
    return base


def demo_datasets() -> list[DemoDataset]:
    """The demo's datasets with their generated files."""
    stops_csv, stops_geojson = demo_data.bus_stops()
    return [
        DemoDataset("bmta", _common(
            name="bangkok-bus-routes", title="เส้นทางรถโดยสารประจำทาง กรุงเทพมหานคร", title_en="Bangkok bus routes",
            notes="เส้นทางเดินรถโดยสารประจำทางในกรุงเทพมหานครและปริมณฑล หมายเลขสาย ประเภทรถ ต้นทาง ปลายทาง "
                  "ระยะทาง เวลาเดินรถเที่ยวแรกและเที่ยวสุดท้าย และอัตราค่าโดยสาร " + SYNTHETIC,
            data_type="record", high_value_dataset=True, reference_data=True, geo_coverage="province",
            tags=[{"name": "รถโดยสารประจำทาง"}, {"name": "รถเมล์"}, {"name": "ขนส่งสาธารณะ"}, {"name": "bus"}],
            groups=[{"name": "transport"}], data_source="องค์การขนส่งมวลชนกรุงเทพ", maintainer="ฝ่ายเดินรถ ขสมก.",
            created_date="2020-01-01", last_updated_date="2026-11-01"),
            [DemoFile("bus_routes.csv", demo_data.bus_routes().csv, "เส้นทางเดินรถ (CSV)",
                      "หนึ่งแถวต่อหนึ่งสาย: หมายเลขสาย ประเภทรถ ต้นทาง ปลายทาง ระยะทาง เวลา ค่าโดยสาร")]),
        DemoDataset("bmta", _common(
            name="bangkok-bus-stops", title="ป้ายหยุดรถโดยสารประจำทาง กรุงเทพมหานคร", title_en="Bangkok bus stops",
            notes="ตำแหน่งป้ายหยุดรถโดยสารประจำทาง พิกัดละติจูด ลองจิจูด (WGS 84) เขต และสายที่ผ่าน " + SYNTHETIC,
            data_type="geospatial", high_value_dataset=True, geo_coverage="coordinates",
            data_format=["csv", "geojson"], spatial_reference_system="EPSG:4326",
            west_bound_longitude=demo_data.LON_RANGE[0], east_bound_longitude=demo_data.LON_RANGE[1],
            south_bound_latitude=demo_data.LAT_RANGE[0], north_bound_latitude=demo_data.LAT_RANGE[1],
            tags=[{"name": "ป้ายรถเมล์"}, {"name": "รถโดยสารประจำทาง"}, {"name": "พิกัด"}],
            groups=[{"name": "transport"}], data_source="องค์การขนส่งมวลชนกรุงเทพ",
            created_date="2020-01-01", last_updated_date="2026-11-01"),
            [DemoFile("bus_stops.csv", stops_csv.csv, "ป้ายหยุดรถ (CSV)", "รหัสป้าย ชื่อป้าย เขต พิกัด และสายที่ผ่าน"),
             DemoFile("bus_stops.geojson", stops_geojson, "ป้ายหยุดรถ (GeoJSON)", "จุดป้ายหยุดรถสำหรับแผนที่")]),
        DemoDataset("bmta", _common(
            name="bangkok-bus-fares", title="อัตราค่าโดยสารรถโดยสารประจำทาง", title_en="Bangkok bus fares",
            notes="อัตราค่าโดยสารตามประเภทรถและระยะทาง (บาท) " + SYNTHETIC, data_type="record",
            high_value_dataset=True, update_frequency_unit="year", tags=[{"name": "ค่าโดยสาร"}, {"name": "รถเมล์"}],
            groups=[{"name": "transport"}], data_source="องค์การขนส่งมวลชนกรุงเทพ", last_updated_date="2026-01-15"),
            [DemoFile("bus_fares.csv", demo_data.bus_fares().csv, "อัตราค่าโดยสาร (CSV)",
                      "ค่าโดยสารตามประเภทรถและช่วงระยะทาง")]),
        DemoDataset("cgd", _common(
            name="public-procurement-2567", title="ข้อมูลการจัดซื้อจัดจ้างภาครัฐ ปีงบประมาณ 2567",
            title_en="Public procurement contracts, fiscal year 2024",
            notes="สัญญาจัดซื้อจัดจ้างของหน่วยงานภาครัฐ วิธีจัดหา วงเงินงบประมาณ ราคาที่ทำสัญญา ผู้ชนะ และวันที่ลงนาม "
                  + SYNTHETIC, data_type="record", high_value_dataset=True, geo_coverage="country",
            objective=["law", "public_service"], update_frequency_unit="day",
            tags=[{"name": "จัดซื้อจัดจ้าง"}, {"name": "งบประมาณ"}, {"name": "procurement"}],
            groups=[{"name": "public-finance"}], data_source="ระบบการจัดซื้อจัดจ้างภาครัฐ (e-GP)",
            created_date="2023-10-01", last_updated_date="2024-09-30"),
            [DemoFile("procurement_2567.csv", demo_data.procurement().csv, "สัญญาปีงบประมาณ 2567 (CSV)",
                      "หนึ่งแถวต่อหนึ่งสัญญา")]),
        DemoDataset("nso", _common(
            name="provincial-statistics-2566", title="ข้อมูลสถิติจังหวัด พ.ศ. 2566",
            title_en="Provincial statistics 2023",
            notes="ข้อมูลสถิติรายจังหวัด: ประชากร ครัวเรือน พื้นที่ ความหนาแน่น และผลิตภัณฑ์มวลรวมจังหวัดต่อหัว "
                  + SYNTHETIC, data_type="statistical", geo_coverage="province", update_frequency_unit="year",
            official_statistics=True, unit_of_measure="คน, ครัวเรือน, ตร.กม., บาท", first_year_of_data=2566,
            last_year_of_data=2566, tags=[{"name": "สถิติ"}, {"name": "ประชากร"}, {"name": "จังหวัด"}],
            groups=[{"name": "population"}, {"name": "economy"}], data_source="สำนักงานสถิติแห่งชาติ",
            last_updated_date="2026-06-30"),
            [DemoFile("provincial_statistics_2566.csv", demo_data.provincial_statistics().csv,
                      "สถิติรายจังหวัด (CSV)", "หนึ่งแถวต่อหนึ่งจังหวัด")]),
        DemoDataset("dga", _common(
            name="digital-government-plan-report", title="รายงานผลการดำเนินงานแผนพัฒนารัฐบาลดิจิทัล",
            title_en="Digital government plan progress report",
            notes="รายงานฉบับเต็ม (PDF): ตัวอย่างชุดข้อมูลที่ยังไม่อยู่ในรูปแบบที่เครื่องอ่านได้", data_type="other",
            update_frequency_unit="year", geo_coverage="country", data_format=["pdf"],
            tags=[{"name": "รัฐบาลดิจิทัล"}], groups=[{"name": "government"}]),
            [], [{"name": "รายงาน (PDF)", "url": "https://www.dga.or.th/document-sharing/", "format": "PDF"}]),
    ]


async def load_demo_opendata(session: AsyncSession) -> list[str]:
    """Create the demo catalog (skipping what exists); returns ids of resources to load into the datastore."""
    for code, name in ORGANIZATIONS.items():
        agency = await identity_repository.agency_by_code(session, code)
        if agency is not None:
            await service.ensure_organization_for_agency(session, agency=agency, name=name)
    for name, title_th, title_en in GROUPS:
        if await repository.group_by_id_or_name(session, name) is None:
            await service.create_group(session, name=name, title_th=title_th, title_en=title_en)
    to_load: list[str] = []
    for demo in demo_datasets():
        if await repository.dataset_by_name(session, demo.package["name"]) is not None:
            continue
        if await repository.organization_by_id_or_name(session, demo.organization) is None:
            continue
        dataset = await service.package_create(
            session, DEMO_ACTOR, {**demo.package, "owner_org": demo.organization, "resources": demo.links})
        for item in demo.files:
            resource = await _upload(session, dataset.id, item)
            if resource.format in resources.TABULAR_FORMATS:
                to_load.append(resource.id)
    return to_load


async def _upload(session: AsyncSession, dataset_id: str, item: DemoFile) -> Any:
    with tempfile.TemporaryDirectory(prefix="govhub-demo-") as directory:
        path = Path(directory) / item.filename
        path.write_text(item.content, encoding="utf-8")
        return await resources.resource_create(
            session, DEMO_ACTOR, {"package_id": dataset_id, "name": item.name, "description": item.description},
            resources.Upload(path, item.filename))


async def load_demo_datastore(resource_ids: list[str]) -> None:
    """Load the demo's tables now, so the demo's previews and datastore API work at once."""
    from govhub.opendata import datastore

    for resource_id in resource_ids:
        await datastore.load_resource(resource_id)
