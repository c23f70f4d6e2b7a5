"""GDX calls answered from a hosted registry (synthetic civil registration), with consent."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from govhub.exchange import service as gdx
from govhub.exchange.models import AccessPolicy, AccessRequestStatus, DataClassification, Member
from govhub.registries import service as registries
from govhub.registries import synthetic
from govhub.registries.schemas import Actor
from tests import factories as f
from tests.exchange.conftest import make_party

PURPOSE = "ยืนยันตัวตนผู้ยื่นคำขอ"


async def _civil_registry(session, provider):  # type: ignore[no-untyped-def]
    """A small civil registry hosted for the provider's agency, filled by the generator."""
    code = "civil-" + secrets.token_hex(3)
    agency_id = (await session.get(Member, provider.subsystem.member_id)).agency_id
    actor = Actor.system("tests", agency_id)
    await registries.create_registry(session, actor=actor, agency_id=agency_id, code=code,
                                     name_th="ทะเบียนราษฎร", name_en="Civil registration")
    await registries.add_version(session, actor=actor, registry_code=code, version="1.0",
                                 json_schema=synthetic.PERSON_SCHEMA, primary_key="national_id",
                                 personal_data_fields=list(synthetic.PERSON_PERSONAL_FIELDS))
    people = list(synthetic.generate_persons(50, seed=secrets.randbelow(10**6)))
    await registries.bulk_load(session, registry_code=code, version="1.0", rows=people, actor=actor)
    await session.commit()
    return code, people


async def test_registry_service_with_approval_fields_and_consent(client, session):
    provider, consumer = await make_party(session), await make_party(session)
    code, people = await _civil_registry(session, provider)
    fields = ["national_id", "first_name_th", "last_name_th", "birth_date", "laser_code"]
    fields = [name for name in fields if name in synthetic.PERSON_SCHEMA["properties"]]
    service = await gdx.publish_service(
        session, provider=provider.subsystem, code="person", title_th="ข้อมูลบุคคล", title_en="Person",
        backend="registry", registry_code=code, registry_version="1.0", key_parameter="national_id",
        returned_fields=fields, personal_fields=fields, classification=DataClassification.CONFIDENTIAL,
        access_policy=AccessPolicy.APPROVAL_REQUIRED, requires_consent=False,
    )
    request = await gdx.request_access(session, service=service, consumer=consumer.subsystem, purpose=PURPOSE,
                                       legal_basis="พ.ร.บ. การทะเบียนราษฎร", requested_by=consumer.client_id)
    await gdx.decide_access(session, request=request, service=service, decision=AccessRequestStatus.APPROVED,
                            reason="", decided_by="officer", allowed_fields=fields[:2])
    await session.commit()
    person = people[0]
    headers = {"authorization": f"Bearer {await consumer.token(client)}", "X-GDX-Purpose": quote(PURPOSE)}
    url = f"/gdx/r1/{provider.subsystem.client_path}/person"
    answer = await client.get(url, params={"national_id": person["national_id"]}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {name: person[name] for name in fields[:2]}  # only the approved fields
    unknown = await client.get(url, params={"national_id": f.national_id()}, headers=headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "record_not_found"
    no_key = await client.get(url, headers=headers)
    assert no_key.status_code == 400 and no_key.json()["error"]["code"] == "key_missing"
