"""Officers: the catalog, access requests, the provider's decision, and the agency's traffic."""

from __future__ import annotations

import httpx

from govhub.exchange.models import Member
from govhub.identity.models import AccountKind, OfficerRole
from tests import factories as f
from tests.exchange.conftest import make_party, remote_service
from tests.identity.test_admin import make_staff, sign_in_staff_with_totp


async def _officer_browser(app, session, party, role):  # type: ignore[no-untyped-def]
    agency_id = (await session.get(Member, party.subsystem.member_id)).agency_id
    officer = await make_staff(session, kind=AccountKind.OFFICER, agency_id=agency_id, roles=[role])
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await sign_in_staff_with_totp(browser, officer)
    return browser


async def _csrf(browser) -> str:  # type: ignore[no-untyped-def]
    return f.csrf_from((await browser.get("/account")).text)


async def test_request_approve_with_field_limits_and_call(app, client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    await remote_service(session, provider, remote_provider, title_en="Taxpayer record")
    requester = await _officer_browser(app, session, consumer, OfficerRole.REVIEWER)
    steward = await _officer_browser(app, session, provider, OfficerRole.DATA_STEWARD)
    try:
        catalog = await requester.get("/api/v1/gdx/services", params={"q": "taxpayer"})
        assert any(s["provider"] == provider.subsystem.client_path for s in catalog.json())
        page = await requester.get("/gdx/catalog?q=taxpayer")
        assert f'data-service="{provider.subsystem.client_path}/taxpayer"' in page.text

        created = await requester.post("/api/v1/gdx/access-requests", headers={"x-csrf-token": await _csrf(requester)}, json={
            "provider": provider.subsystem.client_path, "service_code": "taxpayer",
            "consumer": consumer.subsystem.client_path, "purpose": "ตรวจสอบภาษี", "legal_basis": "ประมวลรัษฎากร"})
        assert created.status_code == 201 and created.json()["status"] == "pending"
        request_id = created.json()["id"]
        not_mine = await requester.post(f"/api/v1/gdx/access-requests/{request_id}/decision",
                                        headers={"x-csrf-token": await _csrf(requester)}, json={"decision": "approved"})
        assert not_mine.status_code == 403  # only the provider decides
        listed = await steward.get("/api/v1/gdx/access-requests")
        assert request_id in {r["id"] for r in listed.json()}
        approved = await steward.post(f"/api/v1/gdx/access-requests/{request_id}/decision",
                                      headers={"x-csrf-token": await _csrf(steward)},
                                      json={"decision": "approved", "allowed_fields": ["tax_id", "vat_registered"]})
        assert approved.status_code == 200 and approved.json()["allowed_fields"] == ["tax_id", "vat_registered"]

        token = await consumer.token(client)
        answer = await client.get(f"/gdx/r1/{provider.subsystem.client_path}/taxpayer/taxpayers/0105561012346",
                                  headers={"authorization": f"Bearer {token}", "X-Road-Id": "officer-flow-1"})
        assert answer.json() == {"tax_id": "0105561012346", "vat_registered": True}
        traffic = await steward.get("/gdx/traffic")
        assert 'data-request-id="officer-flow-1"' in traffic.text
    finally:
        await requester.aclose()
        await steward.aclose()


async def test_citizens_cannot_use_the_officer_views(client):
    await f.register_citizen(client)
    assert (await client.get("/api/v1/gdx/services")).status_code == 403
    assert (await client.get("/gdx/traffic", headers={"accept": "text/html"})).status_code == 403


async def test_officer_cannot_request_for_another_agencys_system(app, session, remote_provider):
    provider, consumer, outsider = await make_party(session), await make_party(session), await make_party(session)
    await remote_service(session, provider, remote_provider)
    intruder = await _officer_browser(app, session, outsider, OfficerRole.REVIEWER)
    try:
        response = await intruder.post("/api/v1/gdx/access-requests", headers={"x-csrf-token": await _csrf(intruder)}, json={
            "provider": provider.subsystem.client_path, "service_code": "taxpayer",
            "consumer": consumer.subsystem.client_path, "purpose": "x", "legal_basis": "y"})
    finally:
        await intruder.aclose()
    assert response.status_code == 403
