"""Synthetic but realistic tables for the demo's open datasets (seeded, so every run is alike).

Bangkok bus routes, stops and fares; a fiscal year of public procurement; provincial
statistics. Place names come from the platform's reference data (`registries/data`); the
numbers are invented within plausible ranges and published as such in each dataset's notes.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from datetime import date, timedelta

from govhub.kit.thai_ids import with_check_digit
from govhub.registries.synthetic import District, districts_of, provinces

SEED = 2569
BANGKOK = "10"
# Bangkok's extent, for stop coordinates (WGS 84).
LAT_RANGE, LON_RANGE = (13.55, 13.95), (100.35, 100.90)


@dataclass(frozen=True)
class Table:
    """A generated table: CSV text and, for the stops, GeoJSON."""

    csv: str
    rows: int


def _csv(header: list[str], rows: list[list[object]]) -> Table:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Table(out.getvalue(), len(rows))


def _bangkok() -> list[District]:
    return districts_of(BANGKOK)


def bus_routes() -> Table:
    """About 150 routes: number, type, ends, length, hours and fares."""
    rng = random.Random(SEED)
    districts = _bangkok()
    kinds = [("ธรรมดา", "Regular", 8, 8), ("ปรับอากาศ", "Air-conditioned", 13, 25), ("รถไฟฟ้า EV", "Electric (EV)", 15, 25)]
    rows = []
    numbers = sorted(rng.sample(range(1, 560), 150))
    for number in numbers:
        origin, destination = rng.sample(districts, 2)
        kind = rng.choices(kinds, weights=[5, 4, 2])[0]
        operator = rng.choices(["ขสมก.", "เอกชนร่วมบริการ"], weights=[3, 2])[0]
        length = round(rng.uniform(12, 48), 1)
        first = f"{rng.choice([4, 5])}:{rng.choice(['00', '15', '30'])}"
        last = f"{rng.choice([21, 22, 23])}:{rng.choice(['00', '30'])}"
        road = rng.choice(origin.roads or destination.roads or (("พหลโยธิน", "Phahon Yothin"),))[0]
        rows.append([str(number), kind[0], kind[1], origin.name_th, destination.name_th, f"ถนน{road}", operator,
                     length, first, last, kind[2], kind[3]])
    header = ["route_no", "bus_type_th", "bus_type_en", "origin", "destination", "via", "operator",
              "length_km", "first_departure", "last_departure", "fare_min_baht", "fare_max_baht"]
    return _csv(header, rows)


def bus_stops(count: int = 2000) -> tuple[Table, str]:
    """Stops with coordinates, district and routes served; as CSV and as GeoJSON."""
    rng = random.Random(SEED + 1)
    districts = _bangkok()
    route_numbers = [row.split(",")[0] for row in bus_routes().csv.splitlines()[1:]]
    rows, features = [], []
    for index in range(1, count + 1):
        district = rng.choice(districts)
        road_th, road_en = rng.choice(district.roads or (("พหลโยธิน", "Phahon Yothin"),))
        lat = round(rng.uniform(*LAT_RANGE), 6)
        lon = round(rng.uniform(*LON_RANGE), 6)
        served = sorted(rng.sample(route_numbers, rng.randint(1, 6)), key=int)
        stop_id = f"BKK{index:05d}"
        name_th = f"ป้ายถนน{road_th} {district.name_th}"
        shelter = rng.random() < 0.7
        rows.append([stop_id, name_th, f"{road_en} Rd, {district.name_en}", district.name_th, lat, lon,
                     " ".join(served), "มี" if shelter else "ไม่มี"])
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": {"stop_id": stop_id, "name": name_th, "routes": served}})
    header = ["stop_id", "name_th", "name_en", "district", "latitude", "longitude", "routes", "shelter"]
    geojson = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    return _csv(header, rows), geojson


def bus_fares() -> Table:
    """Fares by bus type and distance band (baht)."""
    bands = [("0-4", 0, 4), ("4-8", 4, 8), ("8-12", 8, 12), ("12-16", 12, 16), ("16-20", 16, 20), ("20+", 20, 99)]
    fares = {"ธรรมดา": [8, 8, 8, 8, 8, 8], "ปรับอากาศ": [13, 15, 17, 19, 21, 25], "รถไฟฟ้า EV": [15, 15, 20, 20, 25, 25]}
    rows = [[kind, band, low, high, fare] for kind, values in fares.items()
            for (band, low, high), fare in zip(bands, values)]
    return _csv(["bus_type", "distance_band_km", "from_km", "to_km", "fare_baht"], rows)


PROJECT_KINDS = [
    ("จัดซื้อวัสดุสำนักงาน", 20_000, 400_000), ("จัดซื้อครุภัณฑ์คอมพิวเตอร์", 100_000, 3_000_000),
    ("จ้างก่อสร้างถนนคอนกรีตเสริมเหล็ก", 500_000, 15_000_000), ("จ้างเหมาบริการรักษาความปลอดภัย", 200_000, 2_500_000),
    ("จัดซื้อยาและเวชภัณฑ์", 100_000, 8_000_000), ("จ้างซ่อมแซมอาคารเรียน", 150_000, 5_000_000),
    ("จัดซื้อน้ำมันเชื้อเพลิง", 50_000, 1_500_000), ("จ้างพัฒนาระบบสารสนเทศ", 300_000, 12_000_000),
    ("จ้างขุดลอกคูคลอง", 300_000, 6_000_000), ("จัดซื้ออาหารเสริม (นม) โรงเรียน", 200_000, 4_000_000),
]
METHODS = [("วิธีประกวดราคาอิเล็กทรอนิกส์ (e-bidding)", 4), ("วิธีเฉพาะเจาะจง", 5), ("วิธีคัดเลือก", 1)]
COMPANY_WORDS = ["รุ่งเรือง", "ศรีสยาม", "ไทยพัฒนา", "มั่นคง", "เจริญกิจ", "สหมิตร", "ก้าวหน้า", "วิศวกรรม", "ทรัพย์ทวี",
                 "เอเชียซัพพลาย", "ชัยมงคล", "สุขสวัสดิ์", "โชคดี", "พัฒนาการ", "ภาคเหนือ", "อีสานรุ่งโรจน์"]


def procurement(count: int = 3000, fiscal_year_be: int = 2567) -> Table:
    """A fiscal year of contracts: project, agency, method, budget, price, winner, date, province."""
    rng = random.Random(SEED + 2)
    all_provinces = provinces()
    companies = []
    for index in range(120):
        name = f"บริษัท {rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_WORDS)} จำกัด"
        companies.append((name, with_check_digit(f"0105{rng.randint(54, 66):02d}{index:06d}")))
    start = date(fiscal_year_be - 543 - 1, 10, 1)  # the Thai fiscal year starts on 1 October
    rows = []
    for index in range(1, count + 1):
        kind, low, high = rng.choice(PROJECT_KINDS)
        province = rng.choice(all_provinces)
        budget = round(rng.uniform(low, high), -2)
        price = round(budget * rng.uniform(0.82, 1.0), 2)
        method = rng.choices([m for m, _ in METHODS], weights=[w for _, w in METHODS])[0]
        if budget > 500_000 and method == "วิธีเฉพาะเจาะจง":
            method = METHODS[0][0]  # above 500,000 baht the law expects open bidding
        company, tax_id = rng.choice(companies)
        signed = start + timedelta(days=rng.randint(0, 364))
        agency = rng.choice([f"องค์การบริหารส่วนจังหวัด{province.name_th}", f"สำนักงานสาธารณสุขจังหวัด{province.name_th}",
                             f"สำนักงานเขตพื้นที่การศึกษา{province.name_th}", f"เทศบาลเมือง{province.name_th}"])
        rows.append([f"{fiscal_year_be % 100}{index:09d}", fiscal_year_be, agency, f"{kind} ({province.name_th})",
                     method, f"{budget:.2f}", f"{price:.2f}", company, tax_id, signed.isoformat(), province.name_th])
    header = ["project_id", "fiscal_year", "agency", "project_name", "method", "budget_baht", "contract_price_baht",
              "winner", "winner_tax_id", "contract_date", "province"]
    return _csv(header, rows)


def provincial_statistics(year_be: int = 2566) -> Table:
    """One row per province: population, households, area, density and gross provincial product per head."""
    rng = random.Random(SEED + 3)
    rows = []
    for province in provinces():
        population = province.population_k * 1000 + rng.randint(-900, 900)
        households = int(population / rng.uniform(2.4, 3.3))
        area = round(rng.uniform(500, 20_000) if province.code != BANGKOK else 1568.7, 1)
        gpp = int(rng.uniform(70_000, 250_000) if province.code != BANGKOK else 620_000)
        rows.append([province.code, province.name_th, province.name_en, province.region, year_be, population,
                     households, area, round(population / area, 1), gpp])
    header = ["province_code", "province_th", "province_en", "region", "year_be", "population", "households",
              "area_km2", "density_per_km2", "gpp_per_capita_baht"]
    return _csv(header, rows)
