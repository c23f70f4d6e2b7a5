"""The officers' portal: publish and change services, ask for access, decide on requests."""

from __future__ import annotations

import html
import json
import re
import secrets
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from govhub.exchange.models import (
    AccessDecision,
    AccessPolicy,
    AccessRequest,
    AccessRequestStatus,
    DataClassification,
    ExchangeService,
    Member,
)
from govhub.identity.models import AccountKind, AuditEvent, OfficerRole
from govhub.kit.clock import BANGKOK
from govhub.registries import service as registries
from govhub.registries import synthetic
from govhub.registries.schemas import Actor
from tests import factories as f
from tests.exchange.conftest import Party, make_party, remote_service
from tests.identity.test_admin import make_staff, sign_in_staff_with_totp

TAX_FIELDS = "tax_id\nname, vat_registered\nrevenue_last_year"


async def _agency(session, party: Party) -> str:  # type: ignore[no-untyped-def]
    return (await session.get(Member, party.subsystem.member_id)).agency_id  # type: ignore[union-attr]


async def _officer(app, session, party: Party, *roles: OfficerRole) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    officer = await make_staff(session, kind=AccountKind.OFFICER, agency_id=await _agency(session, party),
                               roles=list(roles or [OfficerRole.DATA_STEWARD]))
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await sign_in_staff_with_totp(browser, officer)
    browser.officer_id = officer.id  # type: ignore[attr-defined]
    return browser


async def _csrf(browser: httpx.AsyncClient) -> str:
    return f.csrf_from((await browser.get("/account")).text)


async def _count(session, model, *where) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def _service(session, party: Party, code: str) -> ExchangeService | None:  # type: ignore[no-untyped-def]
    query = select(ExchangeService).where(
        ExchangeService.provider_subsystem_id == party.subsystem.id, ExchangeService.code == code)
    return await session.scalar(query.execution_options(populate_existing=True))


def _publish_form(party: Party, url: str, **overrides: str) -> dict[str, str]:
    form = {
        "subsystem_id": party.subsystem.id, "code": "taxpayer", "title_th": "ข้อมูลผู้เสียภาษี",
        "title_en": "Taxpayer", "description": "ข้อมูลผู้เสียภาษีนิติบุคคล", "backend": "remote",
        "remote_url": url, "timeout_ms": "2000", "returned_fields": TAX_FIELDS, "personal_fields": "",
        "classification": "internal", "access_policy": "open_to_government", "openapi": "",
    }
    form.update(overrides)
    return form


async def _post_form(browser: httpx.AsyncClient, get_url: str, post_url: str, data: dict[str, object]) -> httpx.Response:
    page = await browser.get(get_url)
    assert page.status_code == 200, page.text
    return await browser.post(post_url, data={"csrf_token": f.csrf_from(page.text), **data})


async def _call(client, consumer: Party, provider: Party, code: str = "taxpayer") -> httpx.Response:  # type: ignore[no-untyped-def]
    token = await consumer.token(client)
    return await client.get(f"/gdx/r1/{provider.subsystem.client_path}/{code}/taxpayers/0105561012346",
                            headers={"authorization": f"Bearer {token}"})


async def _hosted_registry(session, party: Party) -> str:  # type: ignore[no-untyped-def]
    code = "people-" + secrets.token_hex(3)
    agency_id = await _agency(session, party)
    actor = Actor.system("tests", agency_id)
    await registries.create_registry(session, actor=actor, agency_id=agency_id, code=code,
                                     name_th="ทะเบียนบุคคล", name_en="People")
    await registries.add_version(session, actor=actor, registry_code=code, version="1.0",
                                 json_schema=synthetic.PERSON_SCHEMA, primary_key="national_id",
                                 personal_data_fields=list(synthetic.PERSON_PERSONAL_FIELDS))
    await session.commit()
    return code


# --- Publishing ---------------------------------------------------------------------------------


async def test_steward_publishes_remote_and_registry_services_through_the_form(app, client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    registry = await _hosted_registry(session, provider)
    steward = await _officer(app, session, provider, OfficerRole.DATA_STEWARD)
    try:
        form_page = await steward.get("/gdx/services/new?lang=en")
        assert form_page.status_code == 200
        assert f'<option value="{provider.subsystem.id}"' in form_page.text
        assert f'value="{registry}@1.0"' in form_page.text  # the agency's hosted registry is offered
        assert consumer.subsystem.id not in form_page.text  # never another agency's system

        openapi = {"openapi": "3.0.3", "info": {"title": "Taxpayer", "version": "1"}, "paths": {}}
        published = await _post_form(steward, "/gdx/services/new", "/gdx/services/new", _publish_form(
            provider, remote_provider, personal_fields="name", openapi=json.dumps(openapi), requires_consent="on",
            classification="confidential", key_parameter="tax_id"))
        assert published.status_code == 303 and published.headers["location"] == "/gdx/services?published=1"
        service = await _service(session, provider, "taxpayer")
        assert service is not None and service.backend == "remote" and service.remote_url == remote_provider
        assert service.returned_fields == ["tax_id", "name", "vat_registered", "revenue_last_year"]
        assert service.personal_fields == ["name"] and service.requires_consent and service.timeout_ms == 2000
        assert service.key_parameter == "tax_id"
        assert service.classification == DataClassification.CONFIDENTIAL and service.openapi == openapi
        audit = await session.scalar(select(AuditEvent).where(AuditEvent.subject_id == service.id))
        assert audit.action == "gdx_service.published" and audit.actor_id == steward.officer_id  # type: ignore[attr-defined]

        registry_service = await _post_form(steward, "/gdx/services/new", "/gdx/services/new", _publish_form(
            provider, "", code="person", backend="registry", registry=f"{registry}@1.0", key_parameter="national_id",
            returned_fields="national_id, given_name_th", personal_fields="national_id\ngiven_name_th",
            classification="confidential", access_policy="approval_required"))
        assert registry_service.status_code == 303, registry_service.text
        person = await _service(session, provider, "person")
        assert (person.backend, person.registry_code, person.registry_version, person.key_parameter, person.remote_url) == (
            "registry", registry, "1.0", "national_id", None)

        listing = await steward.get("/gdx/services?lang=en")
        assert 'data-service="taxpayer"' in listing.text and 'data-service="person"' in listing.text
        assert f'href="/gdx/services/{service.id}/edit"' in listing.text
        assert "/gdx/services/new" in listing.text
        # Live at once: open to members, so a call gets past the access right to the personal-data checks.
        live = await _call(client, consumer, provider)
        assert live.status_code == 400 and live.json()["error"]["code"] == "purpose_missing"
    finally:
        await steward.aclose()


def _errors(remote: str, registry: str) -> list[tuple[dict[str, str], int, str]]:
    return [
        ({"code": "has space"}, 422, "Use letters, digits, dots, dashes or underscores for the code."),
        ({"code": "listMethods"}, 422, "Use letters, digits, dots, dashes or underscores for the code."),
        ({"title_en": "  "}, 422, "Enter both the Thai and the English title."),
        ({"remote_url": "ftp://example.go.th"}, 422, "A remote service needs the provider system&#39;s URL."),
        ({"backend": "registry", "registry": ""}, 422, "A registry service needs the registry, its version and the key parameter."),
        ({"backend": "registry", "registry": f"{registry}@1.0", "key_parameter": "national_id"}, 422,
         "Choose a registry version that your agency hosts on govhub."),
        ({"backend": "carrier-pigeon"}, 422, "Choose a registry or a remote backend."),
        ({"personal_fields": "salary"}, 422, "Personal-data fields must be among the returned fields."),
        ({"personal_fields": "name", "classification": "secret"}, 422,
         "Personal data classified confidential or above cannot be open to every agency"),
        ({"returned_fields": "tax id"}, 422, "Name each field with up to 64 letters"),
        ({"timeout_ms": "soon"}, 422, "The timeout must be from 100 to 60000 milliseconds."),
        ({"timeout_ms": "60001"}, 422, "The timeout must be from 100 to 60000 milliseconds."),
        ({"classification": "very-secret"}, 422, "Choose a classification."),
        ({"access_policy": ""}, 422, "Choose who may call the service."),
        ({"openapi": "[1, 2]"}, 422, "The OpenAPI description must be a JSON object."),
        ({"openapi": "{not json"}, 422, "The OpenAPI description must be a JSON object."),
        ({"openapi": json.dumps({"x": "y" * 70_000})}, 422, "The OpenAPI description can be up to 64 KB."),
        ({"subsystem_id": ""}, 422, "Choose the system that provides the service."),
    ]


async def test_each_publishing_mistake_reshows_the_form_and_changes_nothing(app, session, remote_provider):
    provider, other = await make_party(session), await make_party(session)
    foreign_registry = await _hosted_registry(session, other)
    await remote_service(session, provider, remote_provider, code="taken")
    steward = await _officer(app, session, provider, OfficerRole.AGENCY_ADMIN)
    try:
        cases = _errors(remote_provider, foreign_registry)
        cases.append(({"code": "taken"}, 409, "This service already exists."))
        for overrides, status, message in cases:
            services, audits = await _count(session, ExchangeService), await _count(session, AuditEvent)
            form = _publish_form(provider, remote_provider, **overrides)
            response = await _post_form(steward, "/gdx/services/new?lang=en", "/gdx/services/new?lang=en", form)
            assert response.status_code == status, (overrides, response.status_code, response.text[:300])
            assert message in response.text, (overrides, re.findall(r'class="error-summary".*?</div>', response.text, re.S))
            assert 'class="error-summary"' in response.text
            assert status != 422 or 'aria-invalid="true"' in response.text  # the field in error is marked
            # What was typed comes back, so nothing has to be typed again.
            assert html.escape(form["title_th"]) in response.text, overrides
            assert html.escape(form["returned_fields"]) in response.text, overrides
            assert await _count(session, ExchangeService) == services and await _count(session, AuditEvent) == audits
        thai = await _post_form(steward, "/gdx/services/new?lang=th", "/gdx/services/new?lang=th",
                                _publish_form(provider, remote_provider, personal_fields="salary"))
        assert thai.status_code == 422 and "ช่องข้อมูลส่วนบุคคลต้องเป็นช่องข้อมูลที่บริการส่งกลับ" in thai.text
        assert '<html lang="th">' in thai.text
    finally:
        await steward.aclose()


async def test_only_stewards_and_agency_admins_of_the_owner_publish(app, session, remote_provider):
    provider, other = await make_party(session), await make_party(session)
    reviewer = await _officer(app, session, provider, OfficerRole.REVIEWER, OfficerRole.REGISTRAR)
    outsider = await _officer(app, session, other, OfficerRole.DATA_STEWARD)
    try:
        assert (await reviewer.get("/gdx/services/new")).status_code == 403
        refused = await reviewer.post("/gdx/services/new", data={
            "csrf_token": await _csrf(reviewer), **_publish_form(provider, remote_provider)})
        assert refused.status_code == 403
        listing = await reviewer.get("/gdx/services")
        assert listing.status_code == 200 and "/gdx/services/new" not in listing.text

        # A steward of another agency names this agency's system: refused, nothing published.
        foreign = await _post_form(outsider, "/gdx/services/new?lang=en", "/gdx/services/new?lang=en",
                                   _publish_form(provider, remote_provider))
        assert foreign.status_code == 403 and "administrators and data stewards" in foreign.text
        api = await outsider.post("/api/v1/gdx/services", headers={"x-csrf-token": await _csrf(outsider)}, json={
            "provider": provider.subsystem.client_path, "code": "taxpayer", "title_th": "x", "title_en": "x",
            "backend": "remote", "remote_url": remote_provider, "returned_fields": ["tax_id"],
            "classification": "internal", "access_policy": "approval_required"})
        assert api.status_code == 403
        assert await _service(session, provider, "taxpayer") is None
    finally:
        await reviewer.aclose()
        await outsider.aclose()


# --- Changing a service -------------------------------------------------------------------------


async def test_edit_then_deactivate_and_reactivate_a_service(app, client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    service = await remote_service(session, provider, remote_provider, access_policy=AccessPolicy.OPEN_TO_GOVERNMENT,
                                   classification=DataClassification.INTERNAL)
    steward = await _officer(app, session, provider, OfficerRole.DATA_STEWARD)
    edit_url = f"/gdx/services/{service.id}/edit"
    try:
        assert (await _call(client, consumer, provider)).status_code == 200
        page = await steward.get(edit_url + "?lang=en")
        assert page.status_code == 200 and 'value="Taxpayer"' in page.text and 'name="is_active" checked' in page.text
        form = {
            "title_th": "ข้อมูลผู้เสียภาษี (ปรับปรุง)", "title_en": "Taxpayer (revised)", "description": "ฉบับใหม่",
            "remote_url": remote_provider, "timeout_ms": "3000", "returned_fields": "tax_id\nname\nvat_registered",
            "personal_fields": "", "classification": "internal", "access_policy": "open_to_government",
            "openapi": '{"openapi": "3.0.3", "info": {"title": "T", "version": "2"}, "paths": {}}', "is_active": "on",
        }
        saved = await _post_form(steward, edit_url, edit_url, form)
        assert saved.status_code == 303 and saved.headers["location"] == "/gdx/services?updated=1"
        service = await _service(session, provider, "taxpayer")
        assert service.title_en == "Taxpayer (revised)" and service.timeout_ms == 3000
        assert service.returned_fields == ["tax_id", "name", "vat_registered"] and service.openapi["info"]["version"] == "2"
        answer = await _call(client, consumer, provider)
        assert answer.status_code == 200 and set(answer.json()) == {"tax_id", "name", "vat_registered"}
        event = await session.scalar(select(AuditEvent).where(
            AuditEvent.subject_id == service.id, AuditEvent.action == "gdx_service.updated"))
        assert event.actor_id == steward.officer_id  # type: ignore[attr-defined]
        changes = event.details["changes"]
        assert changes["title_en"] == ["Taxpayer", "Taxpayer (revised)"] and changes["timeout_ms"] == [1000, 3000]
        assert "openapi" in changes and "classification" not in changes  # only what changed

        # A mistake changes nothing and says what is wrong, in the officer's language.
        wrong = await _post_form(steward, edit_url + "?lang=en", edit_url + "?lang=en",
                                 {**form, "personal_fields": "salary", "title_en": "Should not be saved"})
        assert wrong.status_code == 422 and "Personal-data fields must be among the returned fields." in wrong.text
        assert 'value="Should not be saved"' in wrong.text
        assert (await _service(session, provider, "taxpayer")).title_en == "Taxpayer (revised)"

        deactivated = await _post_form(steward, edit_url, edit_url, {k: v for k, v in form.items() if k != "is_active"})
        assert deactivated.status_code == 303
        assert (await _service(session, provider, "taxpayer")).is_active is False
        refused = await _call(client, consumer, provider)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "service_not_found"
        catalog = await steward.get("/gdx/catalog")
        assert f'data-service="{provider.subsystem.client_path}/taxpayer"' not in catalog.text
        assert "tag-warn" in (await steward.get("/gdx/services")).text  # shown as inactive to its owner
        last = (await session.scalars(select(AuditEvent).where(AuditEvent.subject_id == service.id)
                                      .order_by(AuditEvent.at.desc()))).first()
        assert last.details["changes"] == {"is_active": [True, False]}

        reactivated = await _post_form(steward, edit_url, edit_url, form)
        assert reactivated.status_code == 303
        assert (await _call(client, consumer, provider)).status_code == 200
    finally:
        await steward.aclose()


async def test_another_agency_cannot_edit_a_service(app, session, remote_provider):
    provider, other = await make_party(session), await make_party(session)
    service = await remote_service(session, provider, remote_provider)
    outsider = await _officer(app, session, other, OfficerRole.AGENCY_ADMIN)
    reviewer = await _officer(app, session, provider, OfficerRole.REVIEWER)
    try:
        url = f"/gdx/services/{service.id}/edit"
        assert (await outsider.get(url)).status_code == 403
        assert (await reviewer.get(url)).status_code == 403
        posted = await outsider.post(url, data={"csrf_token": await _csrf(outsider), "title_th": "ยึด", "title_en": "Taken",
                                                "returned_fields": "tax_id", "classification": "open",
                                                "access_policy": "open_to_government"})
        assert posted.status_code == 403
        patched = await outsider.patch(f"/api/v1/gdx/services/{service.id}", headers={"x-csrf-token": await _csrf(outsider)},
                                       json={"is_active": False, "title_en": "Taken"})
        assert patched.status_code == 403
        assert (await outsider.get("/gdx/services/no-such-id/edit")).status_code == 404
        unchanged = await _service(session, provider, "taxpayer")
        assert unchanged.title_en == "Taxpayer" and unchanged.is_active
        assert await _count(session, AuditEvent, AuditEvent.subject_id == service.id) == 1  # only its publication
    finally:
        await outsider.aclose()
        await reviewer.aclose()


# --- Access requests and decisions --------------------------------------------------------------


def _request_link(catalog_html: str, provider: Party) -> str:
    links = [html.unescape(link) for link in re.findall(r'class="request-access" href="([^"]+)"', catalog_html)]
    wanted = [link for link in links if provider.subsystem.client_path.replace("/", "%2F") in link]
    assert len(wanted) == 1, links
    return wanted[0]


async def test_request_from_the_catalog_then_approve_with_fields_and_date(app, client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    service = await remote_service(session, provider, remote_provider, title_en="Taxpayer record")
    requester = await _officer(app, session, consumer, OfficerRole.REVIEWER)
    steward = await _officer(app, session, provider, OfficerRole.DATA_STEWARD)
    try:
        link = _request_link((await requester.get("/gdx/catalog?q=taxpayer")).text, provider)
        form_page = await requester.get(link + "&lang=en")
        assert form_page.status_code == 200 and "Taxpayer record" in form_page.text
        assert f'<option value="{consumer.subsystem.id}"' in form_page.text

        missing = await requester.post("/gdx/access-requests/new?lang=en", data={
            "csrf_token": f.csrf_from(form_page.text), "provider": provider.subsystem.client_path,
            "service": "taxpayer", "consumer_id": consumer.subsystem.id, "purpose": "ตรวจสอบภาษี", "legal_basis": " "})
        assert missing.status_code == 422 and "State the purpose and the legal basis." in missing.text
        assert "ตรวจสอบภาษี" in missing.text
        foreign = await requester.post("/gdx/access-requests/new", data={
            "csrf_token": f.csrf_from(form_page.text), "provider": provider.subsystem.client_path,
            "service": "taxpayer", "consumer_id": provider.subsystem.id, "purpose": "x", "legal_basis": "y"})
        assert foreign.status_code == 403  # only for my own agency's systems
        assert await _count(session, AccessRequest, AccessRequest.service_id == service.id) == 0

        data = {"csrf_token": f.csrf_from(form_page.text), "provider": provider.subsystem.client_path,
                "service": "taxpayer", "consumer_id": consumer.subsystem.id, "purpose": "ตรวจสอบภาษีผู้ขอใบอนุญาต",
                "legal_basis": "ประมวลรัษฎากร มาตรา 3"}
        created = await requester.post("/gdx/access-requests/new", data=data)
        assert created.status_code == 303 and created.headers["location"] == "/gdx/access-requests?requested=1"
        again = await requester.post("/gdx/access-requests/new?lang=en", data=data)
        assert again.status_code == 409 and "waiting for a decision" in again.text
        access = await session.scalar(select(AccessRequest).where(AccessRequest.service_id == service.id))
        assert access.status == AccessRequestStatus.PENDING and access.requested_by == requester.officer_id  # type: ignore[attr-defined]
        outgoing = (await requester.get("/gdx/access-requests")).text.split('id="outgoing"')[1]
        assert f'data-request="{access.id}" data-status="pending"' in outgoing
        assert f'action="/gdx/access-requests/{access.id}/decision"' not in outgoing  # consumers do not decide

        page = await steward.get("/gdx/access-requests?lang=en")
        incoming = page.text.split('id="incoming"')[1].split('id="outgoing"')[0]
        assert "ตรวจสอบภาษีผู้ขอใบอนุญาต" in incoming and "ประมวลรัษฎากร มาตรา 3" in incoming
        assert f'action="/gdx/access-requests/{access.id}/decision"' in incoming
        decide_url = f"/gdx/access-requests/{access.id}/decision"

        async def decide(**form: object) -> httpx.Response:
            return await steward.post(decide_url + "?lang=en", data={"csrf_token": f.csrf_from(page.text), **form})

        rejected = await decide(decision="rejected", reason="  ")
        assert rejected.status_code == 422 and "Give the reason for the decision." in rejected.text
        assert f'id="decision-error-{access.id}"' in rejected.text
        no_fields = await decide(decision="approved", reason="")
        assert no_fields.status_code == 422 and "Choose at least one field to approve." in no_fields.text
        past = await decide(decision="approved", allowed_fields=["tax_id"], valid_until="2001-01-01")
        assert past.status_code == 422 and "The end date of an approval must be in the future." in past.text
        bad_date = await decide(decision="approved", allowed_fields=["tax_id"], valid_until="31/12/2099")
        assert bad_date.status_code == 422 and "year-month-day" in bad_date.text
        revoke_pending = await decide(decision="revoked", reason="x")
        assert revoke_pending.status_code == 422 and "Only an approved request can be revoked." in revoke_pending.text
        assert (await session.get(AccessRequest, access.id, populate_existing=True)).status == AccessRequestStatus.PENDING
        assert await _count(session, AccessDecision, AccessDecision.request_id == access.id) == 0

        until = (datetime.now(BANGKOK) + timedelta(days=90)).date()
        approved = await decide(decision="approved", allowed_fields=["tax_id", "vat_registered"],
                                valid_until=until.isoformat(), reason="ตามบันทึกข้อตกลง")
        assert approved.status_code == 303, approved.text
        access = await session.get(AccessRequest, access.id, populate_existing=True)
        assert access.status == AccessRequestStatus.APPROVED and access.allowed_fields == ["tax_id", "vat_registered"]
        local_end = access.valid_until.astimezone(BANGKOK)
        assert (local_end.date(), local_end.hour, local_end.minute) == (until, 23, 59)  # through that whole day
        answer = await _call(client, consumer, provider)
        assert answer.status_code == 200 and answer.json() == {"tax_id": "0105561012346", "vat_registered": True}
        again = await decide(decision="approved", allowed_fields=["tax_id"])
        assert again.status_code == 409 and "already been decided" in again.text

        revoke_silently = await decide(decision="revoked", reason="")
        assert revoke_silently.status_code == 422 and "Give the reason for the decision." in revoke_silently.text
        revoked = await decide(decision="revoked", reason="สิ้นสุดโครงการ")
        assert revoked.status_code == 303
        refused = await _call(client, consumer, provider)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_access_right"

        # Both sides see the whole history: who decided what, when and why.
        for browser in (steward, requester):
            text = (await browser.get("/gdx/access-requests?lang=en")).text
            row = text.split(f'data-request="{access.id}"')[1].split("</tr>")[0]
            assert 'data-status="revoked"' in text
            assert row.index('data-decision="approved"') < row.index('data-decision="revoked"')
            assert "ตามบันทึกข้อตกลง" in row and "สิ้นสุดโครงการ" in row and "tax_id, vat_registered" in row
            approval = re.search(r'<li data-decision="approved">(.*?)</li>', row, re.S).group(1)  # type: ignore[union-attr]
            assert "ผู้ดูแล ทดสอบ" in approval  # the deciding officer's name, not an id
        decisions = (await session.scalars(select(AccessDecision).where(AccessDecision.request_id == access.id)
                                           .order_by(AccessDecision.decided_at))).all()
        assert [d.decision for d in decisions] == [AccessRequestStatus.APPROVED, AccessRequestStatus.REVOKED]
        assert {d.decided_by for d in decisions} == {steward.officer_id}  # type: ignore[attr-defined]
    finally:
        await requester.aclose()
        await steward.aclose()


async def test_another_agency_cannot_decide_or_see_a_request(app, session, remote_provider):
    provider, consumer, other = await make_party(session), await make_party(session), await make_party(session)
    service = await remote_service(session, provider, remote_provider)
    from govhub.exchange import service as gdx

    access = await gdx.request_access(session, service=service, consumer=consumer.subsystem, purpose="p",
                                      legal_basis="l", requested_by="someone")
    await session.commit()
    outsider = await _officer(app, session, other, OfficerRole.DATA_STEWARD)
    consumer_steward = await _officer(app, session, consumer, OfficerRole.DATA_STEWARD)
    try:
        assert access.id not in (await outsider.get("/gdx/access-requests")).text
        for browser in (outsider, consumer_steward):
            refused = await browser.post(f"/gdx/access-requests/{access.id}/decision",
                                         data={"csrf_token": await _csrf(browser), "decision": "approved",
                                               "allowed_fields": "tax_id"})
            assert refused.status_code == 403
            api = await browser.post(f"/api/v1/gdx/access-requests/{access.id}/decision",
                                     headers={"x-csrf-token": await _csrf(browser)}, json={"decision": "approved"})
            assert api.status_code == 403
        missing = await outsider.post("/gdx/access-requests/nope/decision",
                                      data={"csrf_token": await _csrf(outsider), "decision": "approved"})
        assert missing.status_code == 404
        assert (await session.get(AccessRequest, access.id, populate_existing=True)).status == AccessRequestStatus.PENDING
        assert await _count(session, AccessDecision, AccessDecision.request_id == access.id) == 0
    finally:
        await outsider.aclose()
        await consumer_steward.aclose()


async def test_citizens_cannot_open_the_officer_pages(client):
    await f.register_citizen(client)
    for path in ("/gdx/services", "/gdx/services/new", "/gdx/access-requests",
                 "/gdx/access-requests/new?provider=x&service=y"):
        assert (await client.get(path, headers={"accept": "text/html"})).status_code == 403, path


async def test_signed_out_visitors_are_sent_to_sign_in_and_machines_get_json(client):
    for path in ("/gdx/catalog", "/gdx/services", "/gdx/access-requests", "/gdx/traffic"):
        page = await client.get(path, headers={"accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/sign-in?next="), path
    for path in ("/gdx/listClients", "/gdx/r1/TH/GOV/X/main/listMethods", "/gdx/r1/TH/GOV/X/main/person"):
        answer = await client.get(path, headers={"accept": "text/html"})
        assert answer.status_code == 401 and answer.headers["content-type"].startswith("application/json"), path
        assert answer.json()["error"], path
    missing = await client.get("/gdx/evidence/proof/inclusion?index=999999&tree_size=1", headers={"accept": "text/html"})
    assert missing.status_code >= 400 and missing.json()["error"]["code"]  # the public log API answers in JSON


async def test_a_deactivated_service_has_no_openapi_description(client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    service = await remote_service(session, provider, remote_provider)
    token = await consumer.token(client)
    url = f"/gdx/r1/{provider.subsystem.client_path}/getOpenAPI?serviceCode=taxpayer"
    headers = {"authorization": f"Bearer {token}"}
    assert (await client.get(url, headers=headers)).status_code == 200
    service.is_active = False
    await session.commit()
    assert (await client.get(url, headers=headers)).status_code == 404


# --- The JSON API -------------------------------------------------------------------------------


async def test_json_api_publishes_and_patches_a_service(app, client, session, remote_provider):
    provider, consumer = await make_party(session), await make_party(session)
    steward = await _officer(app, session, provider, OfficerRole.DATA_STEWARD)
    reviewer = await _officer(app, session, provider, OfficerRole.REVIEWER)
    body = {
        "provider": provider.subsystem.client_path, "code": "taxpayer", "title_th": "ข้อมูลผู้เสียภาษี",
        "title_en": "Taxpayer", "backend": "remote", "remote_url": remote_provider, "timeout_ms": 1500,
        "returned_fields": ["tax_id", "name", "vat_registered"], "personal_fields": [],
        "classification": "internal", "access_policy": "open_to_government",
        "openapi": {"openapi": "3.0.3", "info": {"title": "Taxpayer", "version": "1"}, "paths": {}},
    }
    try:
        assert (await steward.post("/api/v1/gdx/services", json=body)).status_code == 403  # no CSRF token
        assert (await reviewer.post("/api/v1/gdx/services", json=body,
                                    headers={"x-csrf-token": await _csrf(reviewer)})).status_code == 403
        headers = {"x-csrf-token": await _csrf(steward)}
        created = await steward.post("/api/v1/gdx/services", json=body, headers=headers)
        assert created.status_code == 201, created.text
        detail = created.json()
        assert detail["provider"] == provider.subsystem.client_path and detail["timeout_ms"] == 1500
        assert detail["has_openapi"] and detail["is_active"] and detail["classification"] == "internal"
        duplicate = await steward.post("/api/v1/gdx/services", json=body, headers=headers)
        assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "duplicate_service"
        unsafe = await steward.post("/api/v1/gdx/services", headers=headers, json={
            **body, "code": "people", "personal_fields": ["name"], "classification": "top_secret"})
        assert unsafe.status_code == 422 and unsafe.json()["error"]["field"] == "access_policy"
        assert (await _call(client, consumer, provider)).status_code == 200

        url = f"/api/v1/gdx/services/{detail['id']}"
        assert (await steward.patch(url, json={"is_active": False})).status_code == 403  # no CSRF token
        wrong = await steward.patch(url, json={"personal_fields": ["salary"]}, headers=headers)
        assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "personal_fields"
        too_short = await steward.patch(url, json={"timeout_ms": 99}, headers=headers)
        assert too_short.status_code == 422
        patched = await steward.patch(url, json={"title_en": "Taxpayer v2", "is_active": False,
                                                 "returned_fields": ["tax_id"]}, headers=headers)
        assert patched.status_code == 200, patched.text
        assert patched.json()["title_en"] == "Taxpayer v2" and patched.json()["is_active"] is False
        assert patched.json()["title_th"] == "ข้อมูลผู้เสียภาษี"  # left out, left alone
        assert (await _call(client, consumer, provider)).json()["error"]["code"] == "service_not_found"
        assert (await reviewer.patch(url, json={"is_active": True},
                                     headers={"x-csrf-token": await _csrf(reviewer)})).status_code == 403
        event = (await session.scalars(select(AuditEvent).where(AuditEvent.subject_id == detail["id"])
                                       .order_by(AuditEvent.at.desc()))).first()
        assert event.action == "gdx_service.updated"
        assert event.details["changes"] == {"title_en": ["Taxpayer", "Taxpayer v2"], "returned_fields": [
            ["tax_id", "name", "vat_registered"], ["tax_id"]], "is_active": [True, False]}
    finally:
        await steward.aclose()
        await reviewer.aclose()


async def test_service_rules_hold_for_every_way_of_publishing(session, remote_provider):
    """The rule on personal data lives in the service, so the demo loader and tests obey it too."""
    from govhub.exchange import service as gdx
    from govhub.kit.errors import ValidationFailed

    provider = await make_party(session)
    with pytest.raises(ValidationFailed) as refused:
        await remote_service(session, provider, remote_provider, code="people", personal_fields=["name"],
                             access_policy=AccessPolicy.OPEN_TO_GOVERNMENT, requires_consent=False)
    assert refused.value.field == "access_policy"
    await session.rollback()
    # The same data with the person's consent, or below confidential, may be open to members.
    await remote_service(session, provider, remote_provider, code="people", personal_fields=["name"],
                         access_policy=AccessPolicy.OPEN_TO_GOVERNMENT, requires_consent=True)
    service = await remote_service(session, provider, remote_provider, code="internal", personal_fields=["name"],
                                   classification=DataClassification.INTERNAL, access_policy=AccessPolicy.OPEN_TO_GOVERNMENT)
    with pytest.raises(ValidationFailed):
        await gdx.update_service(session, service=service, edit=gdx.ServiceEdit(classification=DataClassification.SECRET),
                                 actor_id=None)
