"""Administrators edit a service's definition in the browser; applications keep their version."""

from __future__ import annotations

import httpx
import yaml

from govhub.db import unit_of_work
from govhub.onestop import repository
from govhub.onestop.models import Application
from tests import factories as f
from tests.identity.test_admin import make_staff, sign_in_staff_with_totp
from tests.onestop.conftest import SUDA, sign_in_demo
from tests.onestop.test_application_pages import start_food_shop


async def _admin(app) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    async with unit_of_work() as session:
        admin = await make_staff(session)
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await sign_in_staff_with_totp(browser, admin)
    return browser


async def _publish(browser: httpx.AsyncClient, text: str, code: str = "") -> httpx.Response:
    token = f.csrf_from((await browser.get("/admin/services")).text)
    return await browser.post("/admin/services/publish?lang=en",
                              data={"definition": text, "code": code, "csrf_token": token})


async def test_an_edit_is_a_new_version_and_old_applications_keep_theirs(app, client, onestop_demo):
    await sign_in_demo(client, SUDA)
    application_id = await start_food_shop(client, consent="no")
    admin = await _admin(app)
    page = await admin.get("/admin/services/food-shop-permit/edit")
    assert page.status_code == 200
    definition = yaml.safe_load(f.html_unescape(page.text.split('name="definition"')[1].split(">", 1)[1].split("</textarea>")[0]))
    definition["time_limit_days"] = 25
    definition["workflow"]["states"][0]["days"] = 2
    published = await _publish(admin, yaml.safe_dump(definition, allow_unicode=True), code="food-shop-permit")
    assert published.status_code == 303, published.text
    async with unit_of_work() as session:
        service = await repository.service_by_code(session, "food-shop-permit")
        application = await session.get(Application, application_id)
        versions = await repository.versions_of(session, service.id)
        assert service.current_version == len(versions) >= 2 and service.time_limit_days == 25
        old = await repository.version_by_id(session, application.manual_version_id)
        assert old.version == service.current_version - 1 and old.definition["time_limit_days"] == 30
    await admin.aclose()


async def test_a_bad_definition_is_refused_with_the_field_named_and_nothing_changes(app, client, onestop_demo):
    admin = await _admin(app)
    async with unit_of_work() as session:
        before = (await repository.service_by_code(session, "vat-registration")).current_version
    text = (await admin.get("/admin/services/vat-registration/edit")).text
    broken = await _publish(admin, "code: vat-registration\nagency: RD\ntitle: {th: x}\n", code="vat-registration")
    assert broken.status_code == 422 and "title.en" in broken.text
    renamed = await _publish(admin, "code: another-code\n", code="vat-registration")
    assert renamed.status_code == 422
    not_yaml = await _publish(admin, "code: [unclosed", code="vat-registration")
    assert not_yaml.status_code == 422 and "not valid YAML" in not_yaml.text
    async with unit_of_work() as session:
        assert (await repository.service_by_code(session, "vat-registration")).current_version == before
    assert "workflow" in text
    await admin.aclose()


async def test_only_administrators_edit_the_catalog(client, onestop_demo):
    await sign_in_demo(client, SUDA)
    assert (await client.get("/admin/services/food-shop-permit/edit", headers={"accept": "text/html"})).status_code in (403, 303)
    token = f.csrf_from((await client.get("/account")).text)
    refused = await client.post("/admin/services/publish", data={"definition": "code: x", "csrf_token": token})
    assert refused.status_code == 403
