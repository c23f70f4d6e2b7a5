"""Bad input on the exchange's routes: a clear error in Thai and in English, and nothing changed."""

from __future__ import annotations

from sqlalchemy import func, select

from govhub.exchange.models import AccessPolicy, AccessRequest, Consent
from tests import factories as f
from tests.exchange.conftest import make_party, remote_service


async def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(func.count()).select_from(model)))


async def test_consent_with_unknown_fields_or_bad_body_changes_nothing(client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    await remote_service(session, provider, remote_provider, code="person", returned_fields=["national_id"],
                         personal_fields=["national_id"], key_parameter="national_id", requires_consent=True,
                         access_policy=AccessPolicy.OPEN_TO_GOVERNMENT)
    await f.register_citizen(client)
    csrf = f.csrf_from((await client.get("/account")).text)
    before = await _count(session, Consent)
    body = {"provider": provider.subsystem.client_path, "service_code": "person",
            "consumer": consumer.subsystem.client_path, "purpose": "x", "fields": ["salary"], "days": 30}
    for lang, expected in (("th", "เลือกข้อมูลที่คุณยินยอมให้เปิดเผย"), ("en", "Choose the data you agree to share.")):
        response = await client.post(f"/api/v1/gdx/consents?lang={lang}", json=body, headers={"x-csrf-token": csrf})
        assert response.status_code == 422 and response.json()["error"]["message"] == expected
    malformed = await client.post("/api/v1/gdx/consents", content=b"{not json",
                                  headers={"x-csrf-token": csrf, "content-type": "application/json"})
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "validation_failed"
    too_long = await client.post("/api/v1/gdx/consents", json={**body, "fields": ["national_id"], "days": 9999},
                                 headers={"x-csrf-token": csrf})
    assert too_long.status_code == 422 and too_long.json()["error"]["field"] == "days"
    assert await _count(session, Consent) == before


async def test_refused_call_explains_itself_in_thai_and_english(client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    await remote_service(session, provider, remote_provider)
    token = await consumer.token(client)
    url = f"/gdx/r1/{provider.subsystem.client_path}/taxpayer/taxpayers/0105561012346"
    thai = await client.get(url, headers={"authorization": f"Bearer {token}", "accept-language": "th"})
    english = await client.get(url + "?lang=en", headers={"authorization": f"Bearer {token}"})
    assert thai.json()["error"] == {"code": "no_access_right", "message": "ผู้ขอใช้ไม่มีสิทธิ์เข้าถึงบริการนี้"}
    assert english.json()["error"]["message"] == "The consumer has no access right to this service."


async def test_access_request_decision_on_unknown_or_bad_input_changes_nothing(app, client, session):
    from govhub.identity.models import AccountKind, OfficerRole
    from govhub.exchange.models import Member
    from tests.identity.test_admin import make_staff, sign_in_staff_with_totp

    party = await make_party(session)
    agency_id = (await session.get(Member, party.subsystem.member_id)).agency_id
    officer = await make_staff(session, kind=AccountKind.OFFICER, agency_id=agency_id, roles=[OfficerRole.DATA_STEWARD])
    await sign_in_staff_with_totp(client, officer)
    csrf = f.csrf_from((await client.get("/account")).text)
    before = await _count(session, AccessRequest)
    unknown = await client.post("/api/v1/gdx/access-requests/no-such-id/decision",
                                json={"decision": "approved"}, headers={"x-csrf-token": csrf, "accept-language": "th"})
    assert unknown.status_code == 404 and "ไม่พบ" in unknown.json()["error"]["message"]
    bad_decision = await client.post("/api/v1/gdx/access-requests/no-such-id/decision",
                                     json={"decision": "maybe"}, headers={"x-csrf-token": csrf})
    assert bad_decision.status_code == 422 and bad_decision.json()["error"]["field"] == "decision"
    no_purpose = await client.post("/api/v1/gdx/access-requests", headers={"x-csrf-token": csrf}, json={
        "provider": party.subsystem.client_path, "service_code": "x", "consumer": party.subsystem.client_path,
        "purpose": "", "legal_basis": ""})
    assert no_purpose.status_code == 422
    assert await _count(session, AccessRequest) == before


async def test_evidence_proofs_refuse_impossible_sizes(client):
    negative = await client.get("/gdx/evidence/proof/inclusion", params={"index": -1})
    assert negative.status_code == 422 and negative.json()["error"]["field"] == "index"
    beyond = await client.get("/gdx/evidence/proof/inclusion", params={"index": 10**9, "tree_size": 10**9 + 1})
    assert beyond.status_code in (404, 422) and beyond.json()["error"]["code"]
