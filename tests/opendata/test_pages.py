"""The open-data portal's pages over HTTP: search, dataset pages, the publishers' forms, history,
the quality panel and page, and the API token pages."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from govhub.db import unit_of_work
from govhub.opendata import repository, service
from govhub.opendata.models import Dataset, DatasetRevision, DatasetState, Resource
from tests import factories as f
from tests.opendata.conftest import Catalog, make_catalog, make_publisher, package

BUS_CSV = (
    "route,origin,destination,fare\n"
    "8,แฮปปี้แลนด์,สะพานพุทธ,8\n"
    "29,มหาวิทยาลัยธรรมศาสตร์ รังสิต,หัวลำโพง,13\n"
    "510,มหาวิทยาลัยธรรมศาสตร์ รังสิต,อนุสาวรีย์ชัยสมรภูมิ,20\n"
).encode()


def text_of(response: httpx.Response) -> str:
    """The page as a person reads it (entities decoded)."""
    return html.unescape(response.text)


async def browser_of_publisher(app: Any, agency_id: str) -> httpx.AsyncClient:
    """A browser signed in (password and TOTP) as a new data steward of the agency."""
    publisher = await make_publisher(agency_id)
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.20", 50000)),
                                base_url="http://testserver")
    response = await f.sign_in(browser, publisher.email)
    assert response.headers["location"].startswith("/account/two-factor/setup")
    await f.enrol_totp(browser)
    browser.account_id = publisher.account_id  # type: ignore[attr-defined]
    return browser


@pytest.fixture
async def catalog() -> Catalog:
    """Fresh organizations and groups."""
    return await make_catalog()


@pytest.fixture
async def transport_browser(app: Any, catalog: Catalog) -> AsyncIterator[httpx.AsyncClient]:
    """A publisher of the transport organization, signed in."""
    browser = await browser_of_publisher(app, catalog.transport.agency_id)
    yield browser
    await browser.aclose()


@pytest.fixture
async def finance_browser(app: Any, catalog: Catalog) -> AsyncIterator[httpx.AsyncClient]:
    """A publisher of the finance organization, signed in."""
    browser = await browser_of_publisher(app, catalog.finance.agency_id)
    yield browser
    await browser.aclose()


async def create(org: Any, name: str, **overrides: Any) -> None:
    """A dataset made through the service, as the platform."""
    async with unit_of_work() as session:
        await service.package_create(session, service.system_actor("tests"), package(org, name, **overrides))


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def new_dataset_form(catalog: Catalog, name: str, **overrides: Any) -> dict[str, Any]:
    """What a publisher fills in on /dataset/new."""
    data: dict[str, Any] = {
        "owner_org": catalog.transport.name, "name": name, "title": "เส้นทางเดินรถโดยสารประจำทาง",
        "title_en": "Bus routes", "notes": "เส้นทาง ต้นทาง ปลายทาง และค่าโดยสารของรถโดยสารประจำทางทุกสาย " * 3,
        "data_type": "statistical", "objective": ["public_service", "analysis"], "update_frequency_unit": "month",
        "update_frequency_interval": "1", "geo_coverage": "province", "data_source": "ระบบเดินรถ",
        "data_format": ["csv", "database"], "data_category": "public", "data_classification": "open",
        "license_id": "Open-D", "data_language": ["th"], "tag_string": "รถเมล์, ขนส่ง, transport",
        "groups": [catalog.groups["transport"].name], "maintainer": "กองข้อมูล",
        "maintainer_email": "data@bmta.example.go.th", "url": "", "created_date": "2567-01-15",
        "last_updated_date": "", "high_value_dataset": "on", "allow_harvest": "on",
        "unit_of_measure": "สาย", "first_year_of_data": "2566", "intent": "publish",
    }
    data.update(overrides)
    return data


async def post_form(browser: httpx.AsyncClient, get_url: str, post_url: str, data: dict[str, Any],
                    files: dict[str, Any] | None = None) -> httpx.Response:
    page = await browser.get(get_url)
    assert page.status_code == 200, page.text
    return await browser.post(post_url, data={"csrf_token": f.csrf_from(page.text), **data}, files=files)


async def stored(name: str) -> Dataset | None:
    async with unit_of_work() as session:
        dataset = await repository.dataset_by_name(session, name)
        if dataset is not None:
            session.expunge(dataset)
        return dataset


# ---------------------------------------------------------------- public pages

async def test_search_finds_thai_words_and_filters_by_facet(client: httpx.AsyncClient, catalog: Catalog) -> None:
    routes, stops, budget = unique("bus-routes"), unique("bus-stops"), unique("budget")
    await create(catalog.transport, routes, title="เส้นทางรถโดยสารประจำทาง", data_type="statistical",
                 groups=[{"name": catalog.groups["transport"].name}], high_value_dataset=True)
    await create(catalog.transport, stops, title="ป้ายหยุดรถโดยสารประจำทาง", data_type="geospatial")
    await create(catalog.finance, budget, title="งบประมาณรายจ่ายประจำปี", notes="งบประมาณ")
    scoped = f"organization={catalog.transport.name}"

    page = await client.get(f"/dataset?q=รถโดยสารประจำทาง&{scoped}")
    assert page.status_code == 200
    assert f'data-dataset="{routes}"' in page.text and f'data-dataset="{stops}"' in page.text
    assert budget not in page.text
    assert "2 datasets found" in text_of(await client.get(f"/dataset?q=รถโดยสารประจำทาง&{scoped}&lang=en"))
    # Facet labels in the reader's language: the organization's title and the vocabulary's.
    assert catalog.transport.title_th in page.text and "ข้อมูลสถิติ" in page.text
    english = text_of(await client.get(f"/dataset?q=รถโดยสารประจำทาง&{scoped}&lang=en"))
    assert "Bangkok Mass Transit Authority" in english and "Statistical data" in english

    # Narrowing by a facet: the dataset type's link adds the filter, which can be removed again.
    link = re.search(r'href="([^"]*data_type=statistical[^"]*)"', page.text)
    assert link, "no facet link for the statistical type"
    narrowed = await client.get(html.unescape(link.group(1)))
    assert f'data-dataset="{routes}"' in narrowed.text and f'data-dataset="{stops}"' not in narrowed.text
    assert 'data-remove-filter="data_type"' in narrowed.text
    remove = re.search(r'href="([^"]*)" data-remove-filter="data_type"', narrowed.text)
    widened = await client.get(html.unescape(remove.group(1)))  # type: ignore[union-attr]
    assert f'data-dataset="{stops}"' in widened.text

    # HTMX asks for the results only.
    fragment = await client.get(f"/dataset?q=รถโดยสารประจำทาง&{scoped}",
                                headers={"HX-Request": "true", "HX-Target": "search-results"})
    assert fragment.text.lstrip().startswith('<div id="search-results"') and "<html" not in fragment.text


async def test_search_of_words_inside_other_words_finds_nothing(client: httpx.AsyncClient, catalog: Catalog) -> None:
    name = unique("bus")
    await create(catalog.transport, name, title="เส้นทางรถโดยสารประจำทาง")
    page = await client.get(f"/dataset?q=สารประจ&organization={catalog.transport.name}")
    assert page.status_code == 200 and name not in page.text


async def test_dataset_page_shows_gdc_labels_resources_and_schema_org(client: httpx.AsyncClient,
                                                                     catalog: Catalog) -> None:
    name = unique("fares")
    await create(catalog.transport, name, title="อัตราค่าโดยสาร", title_en="Bus fares", data_type="statistical",
                 objective=["national_strategy", "public_service"], update_frequency_unit="quarter",
                 data_format=["csv"], data_language=["th", "en"], unit_of_measure="บาท", first_year_of_data=2020,
                 groups=[{"name": catalog.groups["transport"].name}], high_value_dataset=True,
                 tags=[{"name": "ค่าโดยสาร"}], created_date="2020-01-01",
                 resources=[{"name": "ตารางค่าโดยสาร", "url": "https://data.example.go.th/fares.csv", "format": "CSV"}])
    page = await client.get(f"/dataset/{name}")
    assert page.status_code == 200
    shown = text_of(page)
    for thai in ("ข้อมูลสถิติ", "ยุทธศาสตร์ชาติ", "เพื่อการให้บริการประชาชน", "ไตรมาส", "ประเทศ", "ข้อมูลสาธารณะ",
                 "เปิดเผย", "ไทย, อังกฤษ", "บาท", "คมนาคมขนส่ง", "ค่าโดยสาร", "ตารางค่าโดยสาร",
                 "องค์การขนส่งมวลชนกรุงเทพ", "1 ม.ค. 2563"):
        assert thai in shown, thai
    assert 'type="application/ld+json"' in page.text and '"@type": "Dataset"' in page.text.replace('":"', '": "')
    for suffix in ("jsonld", "ttl", "rdf"):
        assert f'href="/dataset/{name}.{suffix}"' in page.text
    assert f'href="/dataset/{name}/history"' in page.text
    assert 'id="quality"' not in page.text  # the quality panel is for the publishers
    english = text_of(await client.get(f"/dataset/{name}?lang=en"))
    assert "Statistical data" in english and "Quarterly" in english and "Bus fares" in english
    assert "1 Jan 2020" in english


async def test_private_and_unknown_datasets_are_not_found_for_outsiders(
        client: httpx.AsyncClient, catalog: Catalog, transport_browser: httpx.AsyncClient,
        finance_browser: httpx.AsyncClient) -> None:
    name = unique("internal")
    await create(catalog.transport, name, private=True, data_category="internal", data_classification="internal")
    assert (await client.get(f"/dataset/{name}")).status_code == 404
    assert (await client.get(f"/dataset/{name}/history")).status_code == 404
    assert (await client.get(f"/dataset/{unique('nothing')}")).status_code == 404
    assert (await finance_browser.get(f"/dataset/{name}")).status_code == 404
    assert name not in (await client.get(f"/dataset?organization={catalog.transport.name}")).text
    mine = await transport_browser.get(f"/dataset/{name}")
    assert mine.status_code == 200 and "tag-internal" in mine.text
    assert name in (await transport_browser.get(f"/organization/{catalog.transport.name}")).text


async def test_organization_and_group_pages(client: httpx.AsyncClient, catalog: Catalog) -> None:
    name = unique("routes")
    await create(catalog.transport, name, groups=[{"name": catalog.groups["transport"].name}])
    listing = text_of(await client.get("/organization"))
    assert catalog.transport.title_th in listing and f'href="/organization/{catalog.transport.name}"' in listing
    organization = await client.get(f"/organization/{catalog.transport.name}")
    assert organization.status_code == 200 and f'data-dataset="{name}"' in organization.text
    groups = text_of(await client.get("/group?lang=en"))
    assert "Transport" in groups
    group = await client.get(f"/group/{catalog.groups['transport'].name}")
    assert group.status_code == 200 and f'data-dataset="{name}"' in group.text
    assert (await client.get(f"/group/{catalog.groups['finance'].name}")).text.count("data-dataset=") == 0
    assert (await client.get("/organization/no-such-org")).status_code == 404


# ---------------------------------------------------------------- publishers

async def test_publisher_creates_a_dataset_with_the_form(transport_browser: httpx.AsyncClient,
                                                        catalog: Catalog) -> None:
    form = await transport_browser.get("/dataset/new")
    assert form.status_code == 200
    assert f'value="{catalog.transport.name}"' in form.text and catalog.finance.name not in form.text
    name = unique("routes")

    # Mistakes: every field's problem is shown beside it, and nothing is saved.
    bad = await post_form(transport_browser, "/dataset/new", "/dataset/new", new_dataset_form(
        catalog, "Bad Name!", title="", objective=[], maintainer_email="not-an-email", west_bound_longitude="200"))
    assert bad.status_code == 422
    for field in ("name", "title", "objective", "maintainer_email"):
        assert f'id="{field}-error"' in bad.text, field
    assert 'href="#objective-0"' in bad.text and 'aria-invalid="true"' in bad.text
    # A geospatial field on statistical data is refused too.
    assert 'id="west_bound_longitude-error"' in bad.text
    assert 'value="not-an-email"' in bad.text  # what was typed is kept
    assert await stored("Bad Name!") is None

    created = await post_form(transport_browser, "/dataset/new", "/dataset/new", new_dataset_form(catalog, name))
    assert created.status_code == 303 and created.headers["location"] == f"/dataset/{name}?done=created"
    dataset = await stored(name)
    assert dataset is not None and dataset.state == DatasetState.ACTIVE and dataset.high_value
    assert dataset.objectives == ["public_service", "analysis"] and dataset.type_fields["unit_of_measure"] == "สาย"
    assert str(dataset.data_created) == "2024-01-15"  # a Buddhist-era year typed in the form
    page = await transport_browser.get(created.headers["location"])
    assert page.status_code == 200 and "notice-success" in page.text and 'id="quality"' in page.text

    # A draft is seen by its organization only.
    draft = unique("draft")
    saved = await post_form(transport_browser, "/dataset/new", "/dataset/new",
                            new_dataset_form(catalog, draft, intent="draft"))
    assert saved.status_code == 303
    assert (await stored(draft)).state == DatasetState.DRAFT  # type: ignore[union-attr]
    async with httpx.AsyncClient(transport=transport_browser._transport, base_url="http://testserver") as anonymous:
        assert (await anonymous.get(f"/dataset/{draft}")).status_code == 404


async def test_type_fields_follow_the_dataset_type(client: httpx.AsyncClient, transport_browser: httpx.AsyncClient,
                                                  catalog: Catalog) -> None:
    fragment = await client.get("/opendata/type-fields?data_type=geospatial")
    assert 'data-type-fields="geospatial"' in fragment.text and 'id="west_bound_longitude"' in fragment.text
    assert "statistical" not in (await client.get("/opendata/type-fields?data_type=record")).text
    # Without JavaScript the form is shown again with the chosen type's fields, and nothing is saved.
    name = unique("map")
    again = await post_form(transport_browser, "/dataset/new", "/dataset/new",
                            new_dataset_form(catalog, name, data_type="geospatial", intent="refresh"))
    assert again.status_code == 200 and 'data-type-fields="geospatial"' in again.text
    assert await stored(name) is None


async def test_publisher_edits_and_the_history_shows_the_change(transport_browser: httpx.AsyncClient,
                                                               client: httpx.AsyncClient, catalog: Catalog) -> None:
    name = unique("stops")
    await create(catalog.transport, name, title="ป้ายรถเมล์")
    edit = await transport_browser.get(f"/dataset/{name}/edit")
    assert edit.status_code == 200 and 'value="ป้ายรถเมล์"' in edit.text and 'id="quality"' in edit.text
    data = new_dataset_form(catalog, name, title="ป้ายหยุดรถโดยสารประจำทาง", data_type="record",
                            unit_of_measure="", first_year_of_data="", intent="save")
    saved = await post_form(transport_browser, f"/dataset/{name}/edit", f"/dataset/{name}/edit", data)
    assert saved.status_code == 303 and saved.headers["location"] == f"/dataset/{name}?done=saved"
    assert (await stored(name)).title == "ป้ายหยุดรถโดยสารประจำทาง"  # type: ignore[union-attr]

    refused = await post_form(transport_browser, f"/dataset/{name}/edit", f"/dataset/{name}/edit",
                              {**data, "title": "", "license_id": "no-such-licence"})
    assert refused.status_code == 422 and 'id="title-error"' in refused.text and 'id="license_id-error"' in refused.text
    assert (await stored(name)).title == "ป้ายหยุดรถโดยสารประจำทาง"  # type: ignore[union-attr]

    history = await transport_browser.get(f"/dataset/{name}/history")
    shown = text_of(history)
    assert history.status_code == 200
    assert "ป้ายรถเมล์" in shown and "ป้ายหยุดรถโดยสารประจำทาง" in shown
    assert "นักเผยแพร่ ข้อมูล" in shown  # the organization's members see who changed it
    public = text_of(await client.get(f"/dataset/{name}/history?lang=en"))
    assert "Metadata changed" in public and "Title in Thai" in public
    assert "นักเผยแพร่ ข้อมูล" not in public and catalog.transport.title_en in public


async def test_publisher_uploads_a_csv_and_sees_it_previewed(transport_browser: httpx.AsyncClient,
                                                            client: httpx.AsyncClient, catalog: Catalog) -> None:
    name = unique("bus-routes")
    await create(catalog.transport, name)
    url = f"/dataset/{name}/resource/new"
    neither = await post_form(transport_browser, url, url, {"name": "x"})
    assert neither.status_code == 422 and 'id="upload-error"' in neither.text
    refused = await post_form(transport_browser, url, url, {"name": "ไม่ใช่ CSV", "format": "CSV"},
                              files={"upload": ("fake.csv", b"%PDF-1.4\n%%EOF\n", "text/csv")})
    assert refused.status_code == 422 and 'id="upload-error"' in refused.text

    added = await post_form(transport_browser, url, url,
                            {"name": "เส้นทางเดินรถ", "description": "สาย ต้นทาง ปลายทาง ค่าโดยสาร (บาท)"},
                            files={"upload": ("routes.csv", BUS_CSV, "text/csv")})
    assert added.status_code == 303 and added.headers["location"] == f"/dataset/{name}?done=resource-added#resources"
    page = await client.get(f"/dataset/{name}")
    shown = text_of(page)
    assert "เส้นทางเดินรถ" in shown and ">CSV<" in page.text and "/download/routes.csv" in page.text
    # The datastore loaded it (jobs run inline in the tests): the preview shows the rows.
    assert 'id="preview"' in page.text, "no datastore preview"
    assert "หัวลำโพง" in shown and "อนุสาวรีย์ชัยสมรภูมิ" in shown
    filtered = text_of(await client.get(f"/dataset/{name}?f.route=29"))
    assert "หัวลำโพง" in filtered and "อนุสาวรีย์ชัยสมรภูมิ" not in filtered
    searched = await client.get(f"/dataset/{name}?pq=สะพานพุทธ", headers={"HX-Request": "true", "HX-Target": "preview"})
    assert searched.text.lstrip().startswith('<section class="panel" id="preview"')
    assert "สะพานพุทธ" in text_of(searched) and "หัวลำโพง" not in text_of(searched)

    # The resource is edited, then removed.
    async with unit_of_work() as session:
        resource_id = (await repository.dataset_by_name(session, name)).resources[0].id  # type: ignore[union-attr]
    edit_url = f"/dataset/{name}/resource/{resource_id}/edit"
    renamed = await post_form(transport_browser, edit_url, edit_url,
                              {"name": "เส้นทางเดินรถ 2567", "description": "ปรับปรุง", "format": ""})
    assert renamed.status_code == 303
    assert "เส้นทางเดินรถ 2567" in text_of(await client.get(f"/dataset/{name}"))
    async with unit_of_work() as session:
        assert (await session.get(Resource, resource_id)).format == "CSV"  # type: ignore[union-attr]
    # A new file is typed by its content, even with the old file's format still in the form.
    replaced = await post_form(transport_browser, edit_url, edit_url,
                               {"name": "เส้นทางเดินรถ 2567", "description": "ปรับปรุง", "format": "CSV",
                                "current_format": "CSV"},
                               files={"upload": ("routes.json", b'[{"route": 8}]', "application/json")})
    assert replaced.status_code == 303
    async with unit_of_work() as session:
        assert (await session.get(Resource, resource_id)).format == "JSON"  # type: ignore[union-attr]
    delete_url = f"/dataset/{name}/resource/{resource_id}/delete"
    removed = await post_form(transport_browser, delete_url, delete_url, {})
    assert removed.status_code == 303
    page = await client.get(f"/dataset/{name}")
    assert "เส้นทางเดินรถ 2567" not in text_of(page) and 'id="preview"' not in page.text


async def test_a_link_resource(transport_browser: httpx.AsyncClient, catalog: Catalog) -> None:
    name = unique("api")
    await create(catalog.transport, name)
    url = f"/dataset/{name}/resource/new"
    bad = await post_form(transport_browser, url, url, {"name": "API", "url": "ftp://example.go.th/x"})
    assert bad.status_code == 422 and 'id="url-error"' in bad.text
    added = await post_form(transport_browser, url, url, {"name": "API", "url": "https://api.example.go.th/routes",
                                                          "format": "api"})
    assert added.status_code == 303
    page = await transport_browser.get(f"/dataset/{name}")
    assert 'href="https://api.example.go.th/routes"' in page.text and ">API<" in page.text


async def test_another_organizations_publisher_is_refused(finance_browser: httpx.AsyncClient, client: httpx.AsyncClient,
                                                         catalog: Catalog) -> None:
    name = unique("routes")
    await create(catalog.transport, name, title="เส้นทางเดินรถ")
    for path in (f"/dataset/{name}/edit", f"/dataset/{name}/delete", f"/dataset/{name}/resource/new"):
        assert (await finance_browser.get(path)).status_code == 403, path
    token = f.csrf_from((await finance_browser.get("/dataset/new")).text)
    changed = await finance_browser.post(f"/dataset/{name}/edit", data={
        "csrf_token": token, **new_dataset_form(catalog, name, title="ถูกแก้", intent="save")})
    assert changed.status_code == 403
    deleted = await finance_browser.post(f"/dataset/{name}/delete", data={"csrf_token": token})
    assert deleted.status_code == 403
    # Nor may they create a dataset in the transport organization by naming it in the form.
    other = unique("theirs")
    posted = await finance_browser.post("/dataset/new", data={"csrf_token": token,
                                                              **new_dataset_form(catalog, other)})
    assert posted.status_code == 403 and await stored(other) is None
    dataset = await stored(name)
    assert dataset is not None and dataset.title == "เส้นทางเดินรถ" and dataset.state == DatasetState.ACTIVE
    # People who publish for no organization cannot open the form; visitors are sent to sign in.
    assert (await client.get("/dataset/new")).status_code == 303
    await f.register_citizen(client)
    assert (await client.get("/dataset/new")).status_code == 403


async def test_publisher_deletes_a_dataset(transport_browser: httpx.AsyncClient, client: httpx.AsyncClient,
                                          catalog: Catalog) -> None:
    name = unique("old")
    await create(catalog.transport, name)
    confirm = await transport_browser.get(f"/dataset/{name}/delete")
    assert confirm.status_code == 200 and f'action="/dataset/{name}/delete"' in confirm.text
    deleted = await transport_browser.post(f"/dataset/{name}/delete", data={"csrf_token": f.csrf_from(confirm.text)})
    assert deleted.status_code == 303 and deleted.headers["location"].startswith(f"/organization/{catalog.transport.name}")
    assert (await client.get(f"/dataset/{name}")).status_code == 404
    assert (await stored(name)).state == DatasetState.DELETED  # type: ignore[union-attr]
    async with unit_of_work() as session:
        dataset = await repository.dataset_by_name(session, name)
        actions = (await session.scalars(select(DatasetRevision.action).where(
            DatasetRevision.dataset_id == dataset.id))).all()  # type: ignore[union-attr]
    assert sorted(actions) == ["created", "deleted"]


# ---------------------------------------------------------------- quality

async def test_quality_is_shown_to_publishers_with_what_to_fix(transport_browser: httpx.AsyncClient,
                                                              client: httpx.AsyncClient, catalog: Catalog) -> None:
    name = unique("poor")
    await create(catalog.transport, name, notes="สั้น", license_id="other-closed", tags=[])
    page = text_of(await transport_browser.get(f"/dataset/{name}?lang=en"))
    assert 'id="quality"' in page and "Quality score:" in page
    assert "Choose an open licence" in page and "Add at least one resource" in page
    assert 'data-criterion="open_license"' in page
    assert 'id="quality"' not in (await client.get(f"/dataset/{name}")).text


async def test_the_quality_page_lists_each_agencys_share(client: httpx.AsyncClient, catalog: Catalog) -> None:
    await create(catalog.transport, unique("mixed"), resources=[
        {"name": "CSV", "url": "https://data.example.go.th/a.csv", "format": "CSV"},
        {"name": "PDF", "url": "https://data.example.go.th/a.pdf", "format": "PDF"}])
    page = await client.get("/opendata/quality?lang=en")
    assert page.status_code == 200
    row = re.search(rf'<tr data-organization="{catalog.transport.name}">(.*?)</tr>', page.text, re.DOTALL)
    assert row and 'data-share="50.0"' in row.group(1)
    assert 'aria-sort="descending"' in page.text and "Open licence" in page.text
    by_name = await client.get("/opendata/quality?sort=name&order=asc")
    assert 'aria-sort="ascending"' in by_name.text


# ---------------------------------------------------------------- API tokens

async def test_api_token_pages_create_list_and_revoke(client: httpx.AsyncClient) -> None:
    await f.register_citizen(client)
    page = await client.get("/account/api-tokens")
    assert page.status_code == 200 and "/account/api-tokens" in (await client.get("/account")).text

    refused = await post_form(client, "/account/api-tokens", "/account/api-tokens", {"name": "script", "days": "400"})
    assert refused.status_code == 422 and 'id="days-error"' in refused.text

    created = await post_form(client, "/account/api-tokens", "/account/api-tokens", {"name": "nightly script",
                                                                                    "days": "30"})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    token = re.search(r'id="new-token" type="text" readonly value="(ghk_[^"]+)"', created.text).group(1)  # type: ignore[union-attr]
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as script:
        shown = await script.get("/api/3/action/package_search", headers={"Authorization": token})
        assert shown.status_code == 200 and shown.json()["success"] is True

    listing = await client.get("/account/api-tokens")
    assert "nightly script" in listing.text and token not in listing.text  # shown once only
    token_id = re.search(r'data-token="([^"]+)"', listing.text).group(1)  # type: ignore[union-attr]
    revoked = await client.post(f"/account/api-tokens/{token_id}/revoke", data={"csrf_token": f.csrf_from(listing.text)})
    assert revoked.status_code == 303 and revoked.headers["location"] == "/account/api-tokens?done=revoked"
    assert "nightly script" not in (await client.get("/account/api-tokens")).text
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as script:
        denied = await script.get("/api/3/action/package_search", headers={"Authorization": token})
        assert denied.status_code == 403


async def test_api_token_pages_need_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/account/api-tokens")
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in")
