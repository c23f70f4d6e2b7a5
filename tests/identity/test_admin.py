"""Administrators (at AAL2) manage agencies and staff, and browse the audit log."""

from __future__ import annotations

import time

import pyotp
from sqlalchemy import select

from govhub.identity import service
from govhub.identity.models import AccountKind, Agency
from tests import factories as f


async def make_staff(session, kind=AccountKind.ADMIN, **kw):
    account = await service.create_staff_account(
        session, kind=kind, email=f.email(), full_name="ผู้ดูแล ทดสอบ", national_id=f.national_id(),
        password=f.PASSWORD, **kw,
    )
    await session.commit()
    return account


async def sign_in_staff_with_totp(client, account) -> None:
    response = await f.sign_in(client, account.email)
    assert response.headers["location"].startswith("/account/two-factor/setup")
    await f.enrol_totp(client)


async def test_staff_must_enrol_totp_before_anything_else(client, session):
    admin = await make_staff(session)
    response = await f.sign_in(client, admin.email)
    assert response.status_code == 303
    # Password alone: every staff page sends them to enrolment, and the API refuses.
    page = await client.get("/admin", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith("/account/two-factor/setup")
    api = await client.get("/api/v1/identity/audit-events")
    assert api.status_code == 401 and api.json()["error"]["code"] == "step_up_required"
    await f.enrol_totp(client)
    assert (await client.get("/admin")).status_code == 200


async def test_admin_adds_agency_and_duplicate_is_refused(client, session):
    admin = await make_staff(session)
    await sign_in_staff_with_totp(client, admin)
    code = "T" + f.national_id()[:6]
    data = {"code": code, "name_th": "หน่วยงานทดสอบ", "name_en": "Test Agency"}
    created = await f.form_post(client, "/admin/agencies", "/admin/agencies", data)
    assert created.status_code == 303
    again = await f.form_post(client, "/admin/agencies?lang=en", "/admin/agencies", data)
    assert again.status_code == 409 and "already exists" in again.text
    count = len((await session.scalars(select(Agency).where(Agency.code == code))).all())
    assert count == 1


async def test_citizen_cannot_reach_admin(client):
    await f.register_citizen(client)
    assert (await client.get("/admin/audit", headers={"accept": "text/html"})).status_code == 403
    assert (await client.get("/api/v1/identity/audit-events")).status_code == 403


async def test_audit_log_filters_failed_sign_ins(client, session):
    admin = await make_staff(session)
    victim = await f.register_citizen(client)
    await f.sign_out(client)
    await f.sign_in(client, victim["national_id"], "wrong password entirely")
    await sign_in_staff_with_totp(client, admin)
    page = await client.get("/admin/audit?action=sign_in.failed&outcome=failure&lang=en")
    assert page.status_code == 200 and "sign_in.failed" in page.text
    assert "totp.enabled" not in page.text.split("<tbody>")[1]
    api = await client.get("/api/v1/identity/audit-events", params={"action": "sign_in.failed"})
    items = api.json()["items"]
    assert items and all(item["action"] == "sign_in.failed" for item in items)
    assert victim["national_id"] not in api.text  # identifiers appear only as keyed hashes


async def test_officer_created_by_admin_has_roles(client, session):
    admin = await make_staff(session)
    await sign_in_staff_with_totp(client, admin)
    agency = (await session.scalars(select(Agency))).first() or await service.create_agency(
        session, code="OFFT", name_th="ทดสอบ", name_en="Test", actor_id=None)
    await session.commit()
    email = f.email()
    response = await f.form_post(client, "/admin/staff/new", "/admin/staff/new", {
        "kind": "officer", "full_name": "เจ้าหน้าที่ ทดสอบ", "email": email, "national_id": f.national_id(),
        "password": f.PASSWORD, "agency_id": agency.id, "roles": "reviewer",
    })
    assert response.status_code == 303, response.text
    bad = await f.form_post(client, "/admin/staff/new?lang=en", "/admin/staff/new", {
        "kind": "officer", "full_name": "x", "email": f.email(), "national_id": f.national_id(),
        "password": f.PASSWORD, "agency_id": agency.id,
    })
    assert bad.status_code == 422 and "at least one role" in bad.text


async def test_step_up_for_totp_protected_action(client):
    """A citizen with TOTP but a password-only session is walked to the second factor."""
    data = await f.register_citizen(client)
    secret = await f.enrol_totp(client)
    await f.sign_out(client)
    await f.sign_in(client, data["national_id"])
    code = pyotp.TOTP(secret).at(time.time() + 30)
    done = await f.form_post(client, "/sign-in/second-factor", "/sign-in/second-factor", {"code": code})
    assert done.status_code == 303
    assert (await client.get("/api/v1/identity/me")).json()["aal"] == 2


async def test_admin_renames_and_deactivates_an_agency(client, session):
    admin = await make_staff(session)
    await sign_in_staff_with_totp(client, admin)
    agency = await service.create_agency(session, code="REN" + f.national_id()[:5], name_th="เดิม", name_en="Old", actor_id=None)
    await session.commit()
    page = await client.get("/admin/agencies")
    response = await client.post(f"/admin/agencies/{agency.id}", data={
        "csrf_token": f.csrf_from(page.text), "name_th": "ใหม่", "name_en": "New"})
    assert response.status_code == 303
    await session.refresh(agency)
    assert (agency.name_th, agency.name_en, agency.is_active) == ("ใหม่", "New", False)
    missing = await client.post("/admin/agencies/no-such-id", data={
        "csrf_token": f.csrf_from(page.text), "name_th": "x", "name_en": "y"})
    assert missing.status_code == 404
