"""The open-data portal in headless Chromium: a visitor searches in Thai, narrows by facets, opens a
dataset and pages through its datastore preview; a publisher signs in with TOTP, creates a dataset
with the form and uploads a CSV resource, which is loaded and previewed.

Both use the portal in Thai (the browser's language). Controls are found through their labels and
roles, or through the addresses links and forms point at, not through interface wording that the
translators may still change; data (titles, rows) is checked as the publisher wrote it.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser_journeys import expect_language, labelled
from tests.e2e.test_onestop_journey import check_accessibility
from tests.factories import PASSWORD, email, national_id

pytestmark = pytest.mark.browser

T = TypeVar("T")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "opendata" / os.environ.get(
    "GOVHUB_TEST_DATABASE", "sqlite")
QUERY = "รถโดยสารประจำทาง"
ROUTES_TITLE = "เส้นทางเดินรถโดยสารประจำทาง กรุงเทพมหานคร"
STOPS_TITLE = "ป้ายหยุดรถโดยสารประจำทาง กรุงเทพมหานคร"
TERMINALS = ["หมอชิต", "สายใต้ใหม่", "เอกมัย", "หัวลำโพง", "สนามหลวง"]


def routes_csv(rows: int = 25) -> bytes:
    """A bus-route table: route number, origin, destination, fare."""
    lines = ["route,origin,destination,fare"]
    for number in range(1, rows + 1):
        lines.append(f"{number},{TERMINALS[number % 5]},{TERMINALS[(number + 2) % 5]},{8 + number % 7}")
    return ("\n".join(lines) + "\n").encode()


def shot(page: Page, step: str) -> None:
    """A full-page screenshot in test-artifacts/opendata/<backend>/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{step}.png"), full_page=True)


def in_database(work: Callable[[], Awaitable[T]]) -> T:
    """Run work() on its own thread and event loop, against the live server's database."""

    async def run() -> T:
        from govhub.db import dispose_engine

        try:
            return await work()
        finally:
            await dispose_engine()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def arranged(live_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two organizations; the transport one publishes bus routes (with a CSV in the datastore) and stops."""
    from govhub.db import unit_of_work
    from govhub.opendata import resources, service
    from tests.opendata.conftest import make_catalog, package

    catalog = in_database(make_catalog)
    suffix = secrets.token_hex(3)
    routes, stops = f"bus-routes-{suffix}", f"bus-stops-{suffix}"
    csv_path = tmp_path_factory.mktemp("opendata") / "routes.csv"
    csv_path.write_bytes(routes_csv())

    async def publish() -> None:
        system = service.system_actor("tests")
        async with unit_of_work() as session:
            dataset = await service.package_create(session, system, package(
                catalog.transport, routes, title=ROUTES_TITLE, title_en="Bangkok bus routes", data_type="statistical",
                notes="เส้นทาง ต้นทาง ปลายทาง และค่าโดยสารของรถโดยสารประจำทางทุกสาย", high_value_dataset=True,
                groups=[{"name": catalog.groups["transport"].name}], unit_of_measure="สาย"))
            await resources.resource_create(session, system, {"package_id": dataset.id, "name": "เส้นทางเดินรถ",
                                                              "description": "สาย ต้นทาง ปลายทาง ค่าโดยสาร"},
                                            resources.Upload(csv_path, "routes.csv"))
        async with unit_of_work() as session:
            await service.package_create(session, system, package(
                catalog.transport, stops, title=STOPS_TITLE, data_type="geospatial",
                notes="ตำแหน่งป้ายหยุดรถโดยสารประจำทาง"))

    in_database(publish)
    return {"catalog": catalog, "routes": routes, "stops": stops, "csv": csv_path}


def new_publisher(agency_id: str, totp_secret: str) -> str:
    """A data steward of the agency with TOTP turned on; returns the email."""
    address = email()

    async def create() -> None:
        from govhub.db import unit_of_work
        from govhub.identity import service
        from govhub.identity.models import AccountKind, OfficerRole
        from govhub.identity.totp import seal
        from govhub.kit.clock import utcnow

        async with unit_of_work() as session:
            officer = await service.create_staff_account(
                session, kind=AccountKind.OFFICER, email=address, full_name="ผู้เผยแพร่ ข้อมูลเปิด",
                national_id=national_id(), password=PASSWORD, agency_id=agency_id, roles=[OfficerRole.DATA_STEWARD])
            officer.totp_secret_encrypted = seal(totp_secret)
            officer.totp_enabled_at = utcnow()

    in_database(create)
    return address


def stored_dataset(name: str) -> dict[str, Any] | None:
    """The dataset's state, type, type fields and resources' formats, as stored."""

    async def read() -> dict[str, Any] | None:
        from govhub.db import unit_of_work
        from govhub.opendata import repository

        async with unit_of_work() as session:
            dataset = await repository.dataset_by_name(session, name)
            if dataset is None:
                return None
            return {"state": dataset.state.value, "type": dataset.dataset_type, "fields": dict(dataset.type_fields),
                    "objectives": list(dataset.objectives), "formats": [r.format for r in dataset.resources]}

    return in_database(read)


def results(page: Page) -> Any:
    return page.locator("#search-results .dataset-list > li[data-dataset]")


def test_visitor_searches_in_thai_filters_and_previews_the_data(page: Page, arranged: dict[str, Any]) -> None:
    """Search "รถโดยสารประจำทาง", narrow by organization and dataset type, open the dataset, page the preview."""
    catalog, routes, stops = arranged["catalog"], arranged["routes"], arranged["stops"]
    page.goto("/")
    expect_language(page, "th")
    page.get_by_role("banner").locator('a[href="/dataset"]').click()
    expect(page).to_have_url(re.compile(r"/dataset$"))
    check_accessibility(page)
    labelled(page, "q", None, "th").fill(QUERY)
    page.locator("#dataset-search").get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/dataset\?q=%E0%B8%A3"))  # the Thai query, percent-encoded
    expect(page.locator(f'[data-dataset="{routes}"]')).to_be_visible()
    shot(page, "01-search")

    # The organization's facet, then the dataset type's: only the statistical bus routes remain.
    page.locator(f'[data-facet="organization"] a[href*="organization={catalog.transport.name}"]').click()
    expect(results(page)).to_have_count(2)
    expect(page.locator(f'[data-dataset="{stops}"]')).to_be_visible()
    page.locator('[data-facet="data_type"] a[href*="data_type=statistical"]').click()
    expect(results(page)).to_have_count(1)
    expect(page.locator("[data-remove-filter]")).to_have_count(2)
    expect(page.locator(f'[data-dataset="{routes}"]')).to_contain_text(ROUTES_TITLE)
    check_accessibility(page)
    shot(page, "02-filtered")

    page.locator(f'[data-dataset="{routes}"] h3 a').click()
    expect(page).to_have_url(re.compile(rf"/dataset/{routes}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(ROUTES_TITLE)
    expect(page.locator("table.metadata")).to_contain_text("ข้อมูลสถิติ")  # the GDC type, in Thai
    assert page.locator('script[type="application/ld+json"]').count() == 1
    preview = page.locator("#preview")
    expect(preview.locator("table.preview-table tbody tr")).to_have_count(20)
    expect(preview.locator("table.preview-table thead th")).to_have_text(["route", "origin", "destination", "fare"])
    check_accessibility(page)
    shot(page, "03-dataset")

    # The next page of rows arrives without reloading the page (HTMX), and the address follows.
    preview.locator('nav a[rel="next"]').click()
    expect(page.locator("#preview table.preview-table tbody tr")).to_have_count(5)
    expect(page.locator("#preview table.preview-table tbody tr").first.locator("td").first).to_have_text("21")
    expect(page).to_have_url(re.compile(r"ppage=2"))
    # A filter on one column.
    page.locator("#preview summary").click()
    page.locator("#preview").get_by_label("route", exact=True).fill("7")
    page.locator("#preview-form").get_by_role("button").click()
    expect(page.locator("#preview table.preview-table tbody tr")).to_have_count(1)
    expect(page.locator("#preview table.preview-table tbody tr td").nth(1)).to_have_text(TERMINALS[7 % 5])
    shot(page, "04-preview-filtered")


def test_publisher_signs_in_creates_a_dataset_and_uploads_a_csv(page: Page, arranged: dict[str, Any]) -> None:
    """A data steward signs in with TOTP, fills the GDC form, publishes, and uploads a CSV."""
    catalog = arranged["catalog"]
    secret = pyotp.random_base32()
    publisher = new_publisher(catalog.transport.agency_id, secret)
    name = f"bus-fares-{secrets.token_hex(3)}"

    page.goto("/dataset/new")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fdataset%2Fnew$"))
    labelled(page, "identifier", None, "th").fill(publisher)
    labelled(page, "password", None, "th").fill(PASSWORD)
    page.locator('main form[action="/sign-in"]').get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/sign-in/second-factor\?next=%2Fdataset%2Fnew$"))
    labelled(page, "code", None, "th").fill(pyotp.TOTP(secret).now())
    page.locator("main form").get_by_role("button").click()
    expect(page).to_have_url(re.compile(r"/dataset/new$"))
    expect_language(page, "th")
    check_accessibility(page)
    shot(page, "05-new-dataset-form")

    # Their only organization is chosen already; the GDC fields are filled from the vocabularies.
    expect(labelled(page, "owner_org", None, "th")).to_have_value(catalog.transport.name)
    labelled(page, "title", None, "th").fill("อัตราค่าโดยสารรถโดยสารประจำทาง")
    labelled(page, "title_en", None, "th").fill("Bus fares")
    labelled(page, "name", None, "th").fill(name)
    labelled(page, "notes", None, "th").fill("อัตราค่าโดยสารของรถโดยสารประจำทางแต่ละสาย แยกตามประเภทรถ "
                                             "ปรับปรุงทุกเดือนจากระบบเก็บค่าโดยสารขององค์การ")
    labelled(page, "data_type", None, "th").select_option("statistical")
    # HTMX brings the statistical fields in.
    expect(page.locator('[data-type-fields="statistical"]')).to_be_visible()
    labelled(page, "unit_of_measure", None, "th").fill("บาท")
    labelled(page, "objective-0", None, "th").check()
    labelled(page, "update_frequency_unit", None, "th").select_option("month")
    labelled(page, "tag_string", None, "th").fill("ค่าโดยสาร, รถเมล์, transport")
    shot(page, "06-new-dataset-filled")
    page.locator('#dataset-form button[value="publish"]').click()

    expect(page).to_have_url(re.compile(rf"/dataset/{name}\?done=created$"))
    expect(page.get_by_role("main").get_by_role("status").first).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("อัตราค่าโดยสารรถโดยสารประจำทาง")
    expect(page.locator("#quality")).to_be_visible()
    stored = stored_dataset(name)
    assert stored is not None and stored["state"] == "active" and stored["type"] == "statistical"
    assert stored["fields"] == {"unit_of_measure": "บาท"} and stored["objectives"] == ["national_strategy"]
    check_accessibility(page)
    shot(page, "07-dataset-created")

    # The CSV: uploaded, checked, loaded into the datastore and previewed.
    page.locator(f'main a[href="/dataset/{name}/resource/new"]').click()
    expect(page).to_have_url(re.compile(rf"/dataset/{name}/resource/new$"))
    check_accessibility(page)
    labelled(page, "upload", None, "th").set_input_files(str(arranged["csv"]))
    labelled(page, "name", None, "th").fill("ตารางค่าโดยสาร")
    labelled(page, "description", None, "th").fill("สาย ต้นทาง ปลายทาง ค่าโดยสาร (บาท)")
    shot(page, "08-resource-form")
    page.locator(f'form[action="/dataset/{name}/resource/new"] button[type="submit"]').click()
    expect(page).to_have_url(re.compile(rf"/dataset/{name}\?done=resource-added#resources$"))
    row = page.locator("#resources tbody tr").first
    expect(row).to_contain_text("ตารางค่าโดยสาร")
    expect(row).to_contain_text("CSV")
    # The load runs as a job after the commit: reload until the preview is there.
    for _ in range(20):
        if page.locator("#preview").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("#preview table.preview-table tbody tr")).to_have_count(20)
    assert stored_dataset(name)["formats"] == ["CSV"]  # type: ignore[index]
    check_accessibility(page)
    shot(page, "09-resource-previewed")
