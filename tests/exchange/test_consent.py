"""Consent: given, withdrawn and expired; a call must carry one covering consumer, person, purpose."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import update

from govhub.exchange.models import AccessPolicy, Consent
from govhub.kit.clock import utcnow
from tests import factories as f
from tests.exchange.conftest import make_party, remote_service

PURPOSE = "ขออนุญาตจัดตั้งสถานที่จำหน่ายอาหาร"
FIELDS = ["national_id", "first_name_th", "last_name_th", "birth_date", "address"]


async def _setup(client, session, remote_provider):  # type: ignore[no-untyped-def]
    provider, consumer = await make_party(session), await make_party(session)
    await remote_service(
        session, provider, remote_provider, code="person", returned_fields=FIELDS, personal_fields=FIELDS,
        key_parameter="national_id", requires_consent=True, access_policy=AccessPolicy.OPEN_TO_GOVERNMENT,
    )
    person = await f.register_citizen(client)
    return provider, consumer, person


async def _give(client, provider, consumer, fields=None, purpose=PURPOSE):  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/gdx/consents", json={
        "provider": provider.subsystem.client_path, "service_code": "person",
        "consumer": consumer.subsystem.client_path, "purpose": purpose, "fields": fields or FIELDS, "days": 30,
    }, headers={"x-csrf-token": await _csrf(client)})
    assert response.status_code == 201, response.text
    return response.json()


async def _csrf(client) -> str:  # type: ignore[no-untyped-def]
    return f.csrf_from((await client.get("/account")).text)


async def _call(client, provider, consumer, national_id, consent_id=None, purpose=PURPOSE):  # type: ignore[no-untyped-def]
    headers = {"authorization": f"Bearer {await consumer.token(client)}", "X-GDX-Purpose": quote(purpose)}
    if consent_id:
        headers["X-GDX-Consent"] = consent_id
    return await client.get(f"/gdx/r1/{provider.subsystem.client_path}/person/persons",
                            params={"national_id": national_id}, headers=headers)


async def test_call_needs_consent_and_purpose(client, session, remote_provider):
    provider, consumer, person = await _setup(client, session, remote_provider)
    missing = await _call(client, provider, consumer, person["national_id"])
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "consent_missing"
    consent = await _give(client, provider, consumer)
    no_purpose = await _call(client, provider, consumer, person["national_id"], consent["id"], purpose="")
    assert no_purpose.status_code == 400 and no_purpose.json()["error"]["code"] == "purpose_missing"
    allowed = await _call(client, provider, consumer, person["national_id"], consent["id"])
    assert allowed.status_code == 200 and allowed.json()["national_id"] == person["national_id"]


async def test_consent_covers_only_its_person_consumer_purpose_and_fields(client, session, remote_provider):
    provider, consumer, person = await _setup(client, session, remote_provider)
    consent = await _give(client, provider, consumer, fields=["national_id", "first_name_th"])
    limited = await _call(client, provider, consumer, person["national_id"], consent["id"])
    assert set(limited.json()) == {"national_id", "first_name_th"}  # fields outside the consent are dropped
    someone_else = await _call(client, provider, consumer, f.national_id(), consent["id"])
    assert someone_else.json()["error"]["code"] == "consent_invalid"
    other_purpose = await _call(client, provider, consumer, person["national_id"], consent["id"], purpose="การตลาด")
    assert other_purpose.json()["error"]["code"] == "consent_invalid"
    stranger = await make_party(session)
    assert (await _call(client, provider, stranger, person["national_id"], consent["id"])).json()["error"]["code"] == "consent_invalid"


async def test_withdrawn_and_expired_consents_are_refused(client, session, remote_provider):
    provider, consumer, person = await _setup(client, session, remote_provider)
    consent = await _give(client, provider, consumer)
    withdrawn = await client.post(f"/api/v1/gdx/consents/{consent['id']}/withdraw",
                                  headers={"x-csrf-token": await _csrf(client)})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    refused = await _call(client, provider, consumer, person["national_id"], consent["id"])
    assert refused.json()["error"]["code"] == "consent_withdrawn"

    second = await _give(client, provider, consumer)
    await session.execute(update(Consent).where(Consent.id == second["id"]).values(valid_until=utcnow() - timedelta(seconds=1)))
    await session.commit()
    expired = await _call(client, provider, consumer, person["national_id"], second["id"])
    assert expired.json()["error"]["code"] == "consent_expired"
    statuses = {c["id"]: c["status"] for c in (await client.get("/api/v1/gdx/consents")).json()}
    assert statuses[consent["id"]] == "withdrawn" and statuses[second["id"]] == "expired"


async def test_only_the_subject_can_withdraw(app, client, session, remote_provider):
    import httpx

    provider, consumer, _person = await _setup(client, session, remote_provider)
    consent = await _give(client, provider, consumer)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as other:
        await f.register_citizen(other)
        response = await other.post(f"/api/v1/gdx/consents/{consent['id']}/withdraw",
                                    headers={"x-csrf-token": f.csrf_from((await other.get("/account")).text)})
    assert response.status_code == 404


async def test_data_usage_page_lists_exactly_the_calls_about_me(app, client, session, remote_provider):
    import httpx

    provider, consumer, me = await _setup(client, session, remote_provider)
    mine = await _give(client, provider, consumer)
    first = await _call(client, provider, consumer, me["national_id"], mine["id"])
    refused = await _call(client, provider, consumer, me["national_id"])  # no consent: refused, still logged
    assert first.status_code == 200 and refused.status_code == 403
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as other:
        someone = await f.register_citizen(other)
        theirs = await _call(other, provider, consumer, someone["national_id"])
        their_page = await other.get("/account/data-usage")
    page = await client.get("/account/data-usage?lang=en")
    listed = set(re.findall(r'data-request-id="([^"]+)"', page.text))
    assert listed == {first.headers["x-road-id"], refused.headers.get("x-road-id") or _request_id_of(refused)}
    assert "Data sent" in page.text and "Refused" in page.text
    assert theirs.headers.get("x-road-id") not in listed
    assert set(re.findall(r'data-request-id="([^"]+)"', their_page.text)) == {_request_id_of(theirs)}


def _request_id_of(response) -> str:  # type: ignore[no-untyped-def]
    """The X-Road-Id a refused call was logged under (refusals answer with it too)."""
    return response.headers["x-road-id"]


async def test_consents_page_withdraws_with_a_form(client, session, remote_provider):
    provider, consumer, me = await _setup(client, session, remote_provider)
    consent = await _give(client, provider, consumer)
    page = await client.get("/account/consents")
    assert consent["id"] in page.text
    done = await client.post(f"/account/consents/{consent['id']}/withdraw", data={"csrf_token": f.csrf_from(page.text)})
    assert done.status_code == 303
    refused = await _call(client, provider, consumer, me["national_id"], consent["id"])
    assert refused.json()["error"]["code"] == "consent_withdrawn"
