"""Arrangements for the open-data tests: two agencies' organizations, groups and actors."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from govhub.db import unit_of_work
from govhub.identity.models import Agency
from govhub.opendata import service
from govhub.opendata.models import Group, Organization
from govhub.opendata.service import Actor


@dataclass
class Catalog:
    """Two organizations, two groups, and an actor per role."""

    transport: Organization
    finance: Organization
    groups: dict[str, Group]
    transport_publisher: Actor
    finance_publisher: Actor
    transport_member: Actor
    admin: Actor


async def make_catalog() -> Catalog:
    """Fresh organizations and groups with unique names (tests share one database)."""
    suffix = secrets.token_hex(3)
    async with unit_of_work() as session:
        orgs = []
        for code, th, en in (("bmta", "องค์การขนส่งมวลชนกรุงเทพ", "Bangkok Mass Transit Authority"),
                             ("cgd", "กรมบัญชีกลาง", "Comptroller General's Department")):
            agency = Agency(code=f"{code.upper()}{suffix}", name_th=th, name_en=en)
            session.add(agency)
            await session.flush()
            orgs.append(await service.ensure_organization_for_agency(session, agency=agency, name=f"{code}-{suffix}"))
        groups = {}
        for name, th, en in (("transport", "คมนาคมขนส่ง", "Transport"), ("finance", "การเงินการคลัง", "Public finance")):
            groups[name] = await service.create_group(session, name=f"{name}-{suffix}", title_th=th, title_en=en)
        session.expunge_all()
    transport, finance = orgs
    return Catalog(
        transport=transport, finance=finance, groups=groups,
        transport_publisher=Actor(account_id=None, publisher_org_ids=frozenset({transport.id}),
                                  member_org_ids=frozenset({transport.id}), label="transport publisher"),
        finance_publisher=Actor(account_id=None, publisher_org_ids=frozenset({finance.id}),
                                member_org_ids=frozenset({finance.id}), label="finance publisher"),
        transport_member=Actor(account_id=None, member_org_ids=frozenset({transport.id}), label="reader"),
        admin=Actor(account_id=None, is_admin=True, label="admin"),
    )


@pytest.fixture
async def catalog() -> Catalog:
    """A fresh catalog arrangement."""
    return await make_catalog()


def package(org: Organization, name: str, **overrides: Any) -> dict[str, Any]:
    """A valid package dict for org, with overrides."""
    data: dict[str, Any] = {
        "name": name, "title": f"ชุดข้อมูล {name}", "notes": "คำอธิบายชุดข้อมูล", "owner_org": org.name,
        "data_type": "record", "objective": ["public_service"], "update_frequency_unit": "year",
        "update_frequency_interval": 1, "geo_coverage": "country", "data_category": "public",
        "data_classification": "open", "license_id": "Open-D", "tags": [{"name": "ทดสอบ"}],
    }
    data.update(overrides)
    return data


@dataclass
class Publisher:
    """An officer who publishes for an organization, with an API token."""

    account_id: str
    email: str
    token: str


async def make_publisher(agency_id: str, *roles: Any) -> Publisher:
    """A new officer of the agency holding roles (data steward by default), and a token for them."""
    from govhub.identity import api_tokens
    from govhub.identity import service as identity_service
    from govhub.identity.models import AccountKind, OfficerRole
    from tests import factories as f

    async with unit_of_work() as session:
        account = await identity_service.create_staff_account(
            session, kind=AccountKind.OFFICER, email=f.email(), full_name="นักเผยแพร่ ข้อมูล",
            national_id=f.national_id(), password=f.PASSWORD, agency_id=agency_id,
            roles=list(roles or [OfficerRole.DATA_STEWARD]),
        )
        _row, token = await api_tokens.create_token(session, account, name="tests")
        return Publisher(account_id=account.id, email=account.email, token=token)


# Datasets for the search tests (test_search, test_search_memory).
DATASETS = {
    "population": dict(title="ข้อมูลสถิติจำนวนประชากรรายจังหวัด", title_en="Provincial population statistics",
                       data_type="statistical", notes="จำนวนประชากรจากทะเบียนราษฎร แยกตามจังหวัดและเพศ"),
    "bus-routes": dict(title="เส้นทางรถโดยสารประจำทาง กรุงเทพมหานคร", title_en="Bangkok bus routes",
                       notes="เส้นทางเดินรถและป้ายหยุดรถ", tags=[{"name": "ขนส่งสาธารณะ"}]),
    "procurement": dict(title="ข้อมูลการจัดซื้อจัดจ้างภาครัฐ ปีงบประมาณ 2567", title_en="Public procurement 2024",
                        notes="สัญญาจัดซื้อจัดจ้างทุกวิธี", tags=[{"name": "งบประมาณ"}]),
    # Decoys: each holds a query's letters inside other words, never the word itself.
    "train-timetable": dict(title="ตารางเวลาเดินรถไฟ", title_en="Train timetable", notes="เวลาออกและถึงของรถไฟทุกขบวน"),
    "rural-roads": dict(title="ทางหลวงชนบท", title_en="Rural highways", notes="สายทางหลวงชนบททั่วประเทศ"),
    "tourism": dict(title="ข้อมูลสถานที่ท่องเที่ยว", title_en="Tourist attractions", notes="สถานที่ท่องเที่ยวทั่วไทย"),
    "vaccine-purchase": dict(title="การจัดซื้อวัคซีน", title_en="Vaccine purchases", notes="การจัดซื้อวัคซีนของโรงพยาบาล"),
    "eye-health": dict(title="สุขภาพตาของนักเรียน", title_en="Pupils' eye health", notes="ผลตรวจสายตา",
                       data_type="statistical"),
    "hospital-beds": dict(title="จำนวนเตียงโรงพยาบาล", title_en="Hospital beds",
                          notes="Statistical yearbook of hospital beds by province", data_type="statistical"),
}


@pytest.fixture
async def indexed() -> tuple[Catalog, dict[str, str]]:
    """DATASETS in a fresh organization; key -> dataset URL name."""
    catalog = await make_catalog()
    suffix = secrets.token_hex(3)
    names = {}
    async with unit_of_work() as session:
        for key, fields in DATASETS.items():
            names[key] = f"{key}-{suffix}"
            await service.package_create(session, catalog.transport_publisher,
                                         package(catalog.transport, names[key], **fields))
    return catalog, names
