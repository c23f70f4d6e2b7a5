"""GDX calls routed to a real remote provider: access rights, field limits, provider failures."""

from __future__ import annotations

from datetime import timedelta

from govhub.exchange import service as gdx
from govhub.exchange.models import AccessPolicy, AccessRequestStatus, DataClassification
from govhub.kit.clock import utcnow
from tests.exchange.conftest import make_party, remote_service


def _path(provider, service_code: str, rest: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"/gdx/r1/{provider.subsystem.client_path}/{service_code}" + (f"/{rest}" if rest else "")


async def _approve(session, service, consumer, fields=None, valid_until=None):  # type: ignore[no-untyped-def]
    request = await gdx.request_access(session, service=service, consumer=consumer.subsystem,
                                       purpose="ตรวจสอบคุณสมบัติผู้ขอใบอนุญาต", legal_basis="พ.ร.บ. การอำนวยความสะดวก พ.ศ. 2558",
                                       requested_by=consumer.client_id)
    await gdx.decide_access(session, request=request, service=service, decision=AccessRequestStatus.APPROVED,
                            reason="", decided_by="officer", allowed_fields=fields, valid_until=valid_until)
    await session.commit()
    return request


async def test_call_without_access_right_is_refused(client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    await remote_service(session, provider, remote_provider)
    token = await consumer.token(client)
    response = await client.get(_path(provider, "taxpayer", "taxpayers/0105561012346"),
                                headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "no_access_right"


async def test_approved_call_is_forwarded_and_limited_to_approved_fields(client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    service = await remote_service(session, provider, remote_provider)
    await _approve(session, service, consumer, fields=["tax_id", "name", "seen_client", "seen_id"])
    token = await consumer.token(client)
    response = await client.get(
        _path(provider, "taxpayer", "taxpayers/0105561012346"),
        headers={"authorization": f"Bearer {token}", "X-Road-Client": consumer.subsystem.client_path,
                 "X-Road-Id": "call-0001"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"tax_id": "0105561012346", "name": "บริษัท ครัวสุดา จำกัด",
                    "seen_client": consumer.subsystem.client_path, "seen_id": "call-0001"}
    assert "revenue_last_year" not in body and "internal_note" not in body  # outside the approval
    assert response.headers["x-road-id"] == "call-0001" and response.headers["x-road-request-hash"]


async def test_expired_or_revoked_approval_refuses(client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    service = await remote_service(session, provider, remote_provider)
    request = await _approve(session, service, consumer, valid_until=utcnow() - timedelta(minutes=1))
    token = await consumer.token(client)
    url = _path(provider, "taxpayer", "taxpayers/0105561012346")
    assert (await client.get(url, headers={"authorization": f"Bearer {token}"})).json()["error"]["code"] == "no_access_right"
    await gdx.decide_access(session, request=request, service=service, decision=AccessRequestStatus.APPROVED,
                            reason="", decided_by="officer")
    await session.commit()
    assert (await client.get(url, headers={"authorization": f"Bearer {token}"})).status_code == 200
    await gdx.decide_access(session, request=request, service=service, decision=AccessRequestStatus.REVOKED,
                            reason="สิ้นสุดโครงการ", decided_by="officer")
    await session.commit()
    assert (await client.get(url, headers={"authorization": f"Bearer {token}"})).status_code == 403


async def test_client_header_must_match_the_signed_in_subsystem(client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    service = await remote_service(session, provider, remote_provider, access_policy=AccessPolicy.OPEN_TO_GOVERNMENT)
    token = await consumer.token(client)
    response = await client.get(
        _path(provider, "taxpayer", "taxpayers/0105561012346"),
        headers={"authorization": f"Bearer {token}", "Information-Mediator-Client": provider.subsystem.client_path},
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "client_mismatch"
    assert service.id


async def test_provider_down_timeout_and_error(client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    open_policy = {"access_policy": AccessPolicy.OPEN_TO_GOVERNMENT}
    await remote_service(session, provider, remote_provider, code="slow", **open_policy)
    await remote_service(session, provider, "http://127.0.0.1:9", code="down", **open_policy)
    token = await consumer.token(client)
    headers = {"authorization": f"Bearer {token}"}
    slow = await client.get(_path(provider, "slow", "slow"), headers=headers)
    assert slow.status_code == 504 and slow.json()["error"]["code"] == "provider_timeout"
    down = await client.get(_path(provider, "down", "anything"), headers=headers)
    assert down.status_code == 502 and down.json()["error"]["code"] == "provider_down"
    broken = await client.get(_path(provider, "slow", "broken"), headers=headers)
    assert broken.status_code == 502 and broken.json()["error"]["code"] == "provider_error"


async def test_unknown_service_and_unauthenticated_calls(client, session):
    provider, consumer = await make_party(session), await make_party(session)
    token = await consumer.token(client)
    missing = await client.get(_path(provider, "nothing"), headers={"authorization": f"Bearer {token}"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "service_not_found"
    assert (await client.get(_path(provider, "nothing"))).status_code == 401


async def test_directory_lists_clients_methods_and_allowed_methods(client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    await remote_service(session, provider, remote_provider)
    await remote_service(session, provider, remote_provider, code="open", access_policy=AccessPolicy.OPEN_TO_GOVERNMENT)
    headers = {"authorization": f"Bearer {await consumer.token(client)}"}
    clients = (await client.get("/gdx/listClients", headers=headers)).json()["member"]
    assert any(m["id"]["member_code"] == provider.subsystem.client_path.split("/")[2] for m in clients)
    base = f"/gdx/r1/{provider.subsystem.client_path}"
    methods = {s["service_code"] for s in (await client.get(base + "/listMethods", headers=headers)).json()["service"]}
    allowed = {s["service_code"] for s in (await client.get(base + "/allowedMethods", headers=headers)).json()["service"]}
    assert methods == {"taxpayer", "open"} and allowed == {"open"}
    spec = await client.get(base + "/getOpenAPI", params={"serviceCode": "taxpayer"}, headers=headers)
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")


async def test_service_codes_of_the_directory_are_reserved(session):
    import pytest

    from govhub.kit.errors import ValidationFailed

    provider = await make_party(session)
    for code in ("listMethods", "get OpenAPI", ""):
        with pytest.raises(ValidationFailed):
            await gdx.publish_service(
                session, provider=provider.subsystem, code=code, title_th="x", title_en="x", backend="remote",
                remote_url="http://127.0.0.1:9", returned_fields=[], personal_fields=[],
                classification=DataClassification.OPEN,
                access_policy=AccessPolicy.OPEN_TO_GOVERNMENT, requires_consent=False,
            )
