"""Registration, sign-in, lockout, CSRF, session cookies and sign-out over HTTP."""

from __future__ import annotations

import pyotp
from sqlalchemy import func, select

from govhub.identity.models import Account, AuditEvent, UserSession
from govhub.identity.sessions import SESSION_COOKIE
from tests import factories as f


async def _account_count(session) -> int:
    return await session.scalar(select(func.count()).select_from(Account))


async def test_citizen_registers_and_is_signed_in(client):
    data = await f.register_citizen(client)
    account = await client.get("/api/v1/identity/me")
    assert account.status_code == 200
    body = account.json()
    assert body["kind"] == "citizen" and body["ial"] == 1 and body["aal"] == 1
    assert body["national_id_masked"].endswith(data["national_id"][-4:])
    assert data["national_id"] not in account.text  # never echoed in full


async def test_invalid_check_digit_is_refused_in_thai_and_english(client, session):
    before = await _account_count(session)
    bad = f.invalid_check_digit(f.national_id())
    data = {"full_name": "ทดสอบ", "email": f.email(), "password": f.PASSWORD, "national_id": bad}
    thai = await f.form_post(client, "/register/citizen", "/register/citizen", data)
    assert thai.status_code == 422
    assert 'aria-invalid="true"' in thai.text and 'id="national_id-error"' in thai.text
    english = await f.form_post(client, "/register/citizen?lang=en", "/register/citizen", data)
    assert "The national ID number is not valid" in english.text
    assert await _account_count(session) == before


async def test_business_needs_valid_juristic_number(client):
    data = {
        "full_name": "ผู้แทน บริษัท", "email": f.email(), "password": f.PASSWORD,
        "national_id": f.national_id(), "juristic_id": f.invalid_check_digit(f.juristic_id()),
        "juristic_name": "บริษัท ทดสอบ จำกัด",
    }
    refused = await f.form_post(client, "/register/business?lang=en", "/register/business", data)
    assert refused.status_code == 422 and "juristic person registration number is not valid" in refused.text
    data["juristic_id"] = f.juristic_id()
    accepted = await f.form_post(client, "/register/business", "/register/business", data)
    assert accepted.status_code == 303
    assert (await client.get("/api/v1/identity/me")).json()["juristic_id"] == data["juristic_id"]


async def test_foreigner_registers_with_passport(client):
    data = {"full_name": "Jane Doe", "email": f.email(), "password": f.PASSWORD,
            "passport_number": "X" + f.national_id()[:8], "nationality": "AUS"}
    response = await f.form_post(client, "/register/foreigner", "/register/foreigner", data)
    assert response.status_code == 303
    assert (await client.get("/api/v1/identity/me")).json()["kind"] == "foreigner"


async def test_duplicate_account_is_refused(client, session):
    data = await f.register_citizen(client)
    before = await _account_count(session)
    await f.sign_out(client)
    again = await f.form_post(client, "/register/citizen?lang=en", "/register/citizen", {**data, "email": f.email()})
    assert again.status_code == 409 and "already exists" in again.text
    assert await _account_count(session) == before


async def test_common_password_is_refused(client):
    data = {"full_name": "ทดสอบ", "email": f.email(), "password": "password1234", "national_id": f.national_id()}
    response = await f.form_post(client, "/register/citizen?lang=en", "/register/citizen", data)
    assert response.status_code == 422 and "too common" in response.text


async def test_sign_in_rotates_session_and_sign_out_ends_it(client):
    data = await f.register_citizen(client)
    first_cookie = client.cookies.get(SESSION_COOKIE)
    await f.sign_out(client)
    f.replace_cookie(client, SESSION_COOKIE, first_cookie)  # a planted (fixated) cookie
    signed_in = await f.sign_in(client, data["national_id"])
    assert signed_in.status_code == 303
    second_cookie = client.cookies.get(SESSION_COOKIE)
    assert second_cookie and second_cookie != first_cookie
    page = await client.get("/account")
    assert page.status_code == 200
    out = await client.post("/sign-out", data={"csrf_token": f.csrf_from(page.text)})
    assert out.status_code == 303
    f.replace_cookie(client, SESSION_COOKIE, second_cookie)  # a stolen copy of the old cookie
    assert (await client.get("/api/v1/identity/me")).status_code == 401


async def test_wrong_passwords_lock_the_account(client, session):
    data = await f.register_citizen(client)
    await f.sign_out(client)
    for attempt in range(4):
        wrong = await f.sign_in(client, data["national_id"], "not the password at all")
        assert wrong.status_code == 401
    locked = await f.sign_in(client, data["national_id"], "not the password at all")
    assert locked.status_code == 429
    # Even the right password is refused while locked, with the reason, in English on request.
    right = await f.form_post(client, "/sign-in?lang=en", "/sign-in",
                              {"identifier": data["national_id"], "password": f.PASSWORD})
    assert right.status_code == 429 and "locked" in right.text
    events = (await session.scalars(select(AuditEvent.action).where(AuditEvent.outcome == "failure"))).all()
    assert "account.locked" in events


async def test_forged_csrf_token_changes_nothing(client, session):
    before = await _account_count(session)
    await client.get("/register/citizen")
    data = {"full_name": "ทดสอบ", "email": f.email(), "password": f.PASSWORD,
            "national_id": f.national_id(), "csrf_token": "forged" * 10}
    response = await client.post("/register/citizen", data=data)
    assert response.status_code == 403
    assert await _account_count(session) == before
    missing = await client.post("/register/citizen", data={k: v for k, v in data.items() if k != "csrf_token"})
    assert missing.status_code == 403


async def test_tampered_session_cookie_is_signed_out(client):
    await f.register_citizen(client)
    token = client.cookies.get(SESSION_COOKIE)
    f.replace_cookie(client, SESSION_COOKIE, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    assert (await client.get("/api/v1/identity/me")).status_code == 401
    page = await client.get("/account", headers={"accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")


async def test_totp_sign_in_and_expired_code(client, session):
    data = await f.register_citizen(client)
    secret = await f.enrol_totp(client)
    assert (await client.get("/api/v1/identity/me")).json()["aal"] == 2
    await f.sign_out(client)

    pending = await f.sign_in(client, data["national_id"])
    assert pending.headers["location"].startswith("/sign-in/second-factor")
    assert (await client.get("/api/v1/identity/me")).status_code == 401  # not signed in yet
    totp = pyotp.TOTP(secret)
    import time

    expired = totp.at(time.time() - 120)
    refused = await f.form_post(client, "/sign-in/second-factor?lang=en", "/sign-in/second-factor", {"code": expired})
    assert refused.status_code == 401 and "expired" in refused.text
    # The enrolment used the current step already; the next step's code is fresh.
    fresh = totp.at(time.time() + 30)
    accepted = await f.form_post(client, "/sign-in/second-factor", "/sign-in/second-factor", {"code": fresh})
    assert accepted.status_code == 303
    assert (await client.get("/api/v1/identity/me")).json()["aal"] == 2
    await f.sign_out(client)
    replay = await f.sign_in(client, data["national_id"])
    assert replay.status_code == 303
    reused = await f.form_post(client, "/sign-in/second-factor", "/sign-in/second-factor", {"code": fresh})
    assert reused.status_code == 401  # the same code never works twice


async def test_sign_out_everywhere_revokes_other_devices(app, client, session):
    import httpx

    data = await f.register_citizen(client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other_device:
        assert (await f.sign_in(other_device, data["national_id"])).status_code == 303
        assert (await other_device.get("/api/v1/identity/me")).status_code == 200
        page = await client.get("/account")
        assert "2" in page.text  # two sessions listed
        done = await client.post("/account/sign-out-everywhere", data={"csrf_token": f.csrf_from(page.text)})
        assert done.status_code == 303
        assert (await other_device.get("/api/v1/identity/me")).status_code == 401
    assert (await client.get("/api/v1/identity/me")).status_code == 401
    account = await session.scalar(select(Account).where(Account.email == data["email"]))
    live = await session.scalar(
        select(func.count()).where(UserSession.account_id == account.id, UserSession.revoked_at.is_(None))
    )
    assert live == 0
