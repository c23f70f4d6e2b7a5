"""The demo exchange (small), identity proofing against the civil registry, and a demo call."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from govhub.db import unit_of_work
from govhub.exchange.demo import DEMO_CLIENT_SECRET, load_demo_exchange
from govhub.exchange.repository import subsystem_by_path
from govhub.identity.demo import DEMO_PASSWORD, load_demo_identity
from tests import factories as f


@pytest.fixture(scope="module")
async def demo_people():  # type: ignore[no-untyped-def]
    async with unit_of_work() as session:
        await load_demo_identity(session)
    async with unit_of_work() as session:
        return await load_demo_exchange(session, persons=300, companies=60)


async def _sign_in_somchai(client):  # type: ignore[no-untyped-def]
    response = await f.sign_in(client, "1101700230708", DEMO_PASSWORD)
    assert response.status_code == 303


async def test_identity_proofing_raises_the_account_to_ial2(client, demo_people):
    somchai = next(p for p in demo_people if p.national_id == "1101700230708")
    await _sign_in_somchai(client)
    assert (await client.get("/api/v1/identity/me")).json()["ial"] == 1
    wrong = await f.form_post(client, "/account/verify-identity?lang=en", "/account/verify-identity",
                              {"laser_code": "XX0000000000", "birth_date": somchai.birth_date_be})
    assert wrong.status_code == 422 and "did not confirm" in wrong.text
    assert (await client.get("/api/v1/identity/me")).json()["ial"] == 1
    bad_date = await f.form_post(client, "/account/verify-identity?lang=en", "/account/verify-identity",
                                 {"laser_code": somchai.laser_code, "birth_date": "31/02/2530"})
    assert bad_date.status_code == 422
    right = await f.form_post(client, "/account/verify-identity", "/account/verify-identity",
                              {"laser_code": somchai.laser_code, "birth_date": somchai.birth_date_be})
    assert right.status_code == 303
    assert (await client.get("/api/v1/identity/me")).json()["ial"] == 2
    usage = await client.get("/account/data-usage?lang=en")
    assert "person-verify" in usage.text  # the person sees that Digital ID read the registry


async def test_demo_consumer_reads_a_person_with_consent(client, session, demo_people):
    await _sign_in_somchai(client)
    purpose = "ขออนุญาตจัดตั้งสถานที่จำหน่ายอาหาร"
    csrf = f.csrf_from((await client.get("/account")).text)
    consent = await client.post("/api/v1/gdx/consents", headers={"x-csrf-token": csrf}, json={
        "provider": "TH/GOV/DOPA/civil-registry", "service_code": "person", "consumer": "TH/GOV/NBM/permits",
        "purpose": purpose, "fields": ["national_id", "full_name_th", "address"], "days": 7,
    })
    assert consent.status_code == 201, consent.text
    permits = await subsystem_by_path(session, "TH/GOV/NBM/permits")
    token = await client.post("/oidc/token", data={"grant_type": "client_credentials", "scope": "gdx"},
                              auth=(permits.oauth_client_id, DEMO_CLIENT_SECRET))
    answer = await client.get(
        "/gdx/r1/TH/GOV/DOPA/civil-registry/person", params={"national_id": "1101700230708"},
        headers={"authorization": f"Bearer {token.json()['access_token']}", "X-GDX-Purpose": quote(purpose),
                 "X-GDX-Consent": consent.json()["id"], "X-Road-Client": "TH/GOV/NBM/permits"},
    )
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"national_id", "full_name_th", "address"}
    assert answer.json()["full_name_th"].endswith("สมชาย ใจดี")


async def test_demo_company_of_the_business_representative(client, session, demo_people):
    permits = await subsystem_by_path(session, "TH/GOV/NBM/permits")
    token = await client.post("/oidc/token", data={"grant_type": "client_credentials", "scope": "gdx"},
                              auth=(permits.oauth_client_id, DEMO_CLIENT_SECRET))
    answer = await client.get(
        "/gdx/r1/TH/GOV/DBD/company-registry/juristic-person", params={"registration_number": "0105561012346"},
        headers={"authorization": f"Bearer {token.json()['access_token']}", "X-GDX-Purpose": quote("ตรวจสอบนิติบุคคล")},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["name_th"] == "บริษัท ครัวสุดา จำกัด" and answer.json()["directors"] == ["1103700012346"]


async def test_govstack_personal_data_usage_lists_reads_of_my_data(client, session, demo_people):
    await test_demo_consumer_reads_a_person_with_consent(client, session, demo_people)
    usage = await client.get("/registries/data/myPersonalDataUsage", params={"databaseId": "civil-registration"})
    assert usage.status_code == 200, usage.text
    readers = {item["readerApplicationName"] for item in usage.json()}
    assert "TH/GOV/NBM/permits" in readers
    other = await client.get("/registries/data/myPersonalDataUsage", params={"databaseId": "vat-registrations"})
    assert all(item["readerApplicationName"] != "TH/GOV/NBM/permits" for item in other.json())
